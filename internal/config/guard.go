package config

// GuardConfig holds the brute-force protection settings.
type GuardConfig struct{}

func (g *GuardConfig) settings() []setting { return nil }

func (g *GuardConfig) validate(*Config) error { return nil }

package config

// StorageConfig holds the settings of the PostgreSQL and sharded storage modes.
type StorageConfig struct{}

func (s *StorageConfig) settings() []setting { return nil }

func (s *StorageConfig) validate(*Config) error { return nil }

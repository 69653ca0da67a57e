package config

import (
	"fmt"
	"testing"
	"time"
)

// TestBoundsMatchSetters holds every published Bound to what its setter really accepts: a
// bound that drifts from the setter (or a setting without a bound) fails here, so tools
// generated from Bounds (the Helm chart's schema) refuse exactly what the service refuses.
func TestBoundsMatchSetters(t *testing.T) {
	bounds := Bounds()
	inTable := map[string]bool{}
	for _, s := range (&Config{}).settings() {
		inTable[s.name] = true
		b, ok := bounds[s.name]
		if !ok {
			t.Errorf("%s has no Bound in describe.go", s.name)
			continue
		}
		var accept, refuse []string
		switch b.Kind {
		case KindInt:
			accept = []string{fmt.Sprint(b.Min), fmt.Sprint(b.Max)}
			refuse = []string{fmt.Sprint(b.Min - 1), fmt.Sprint(b.Max + 1), "x"}
		case KindDuration:
			accept = []string{b.MinDuration.String(), (b.MinDuration + time.Hour).String()}
			refuse = []string{(b.MinDuration - time.Nanosecond).String(), "x"}
		case KindRate:
			accept = []string{fmt.Sprintf("%d/%s", b.Min, b.MinDuration), fmt.Sprintf("%d/1h", b.Min+1000)}
			refuse = []string{fmt.Sprintf("%d/1m", b.Min-1), fmt.Sprintf("%d/%s", b.Min, b.MinDuration-time.Nanosecond), "x"}
		case KindEnum:
			if len(b.Values) == 0 {
				t.Errorf("%s: an enumeration without values", s.name)
			}
			accept = b.Values
			refuse = []string{"not-one-of-them"}
		case KindFree:
		default:
			t.Errorf("%s: unknown kind %q", s.name, b.Kind)
		}
		for _, v := range accept {
			if err := freshSetter(s.name)(v); err != nil {
				t.Errorf("%s: Bound %+v says %q is accepted; the setter says %v", s.name, b, v, err)
			}
		}
		for _, v := range refuse {
			if err := freshSetter(s.name)(v); err == nil {
				t.Errorf("%s: Bound %+v says %q is refused; the setter accepts it", s.name, b, v)
			}
		}
	}
	for name := range bounds {
		if !inTable[name] {
			t.Errorf("Bounds describes %s, which is not a setting", name)
		}
	}
}

// freshSetter returns the setter of a setting on a new Config, so probes do not interact.
func freshSetter(name string) func(string) error {
	for _, s := range (&Config{}).settings() {
		if s.name == name {
			return s.set
		}
	}
	return nil
}

package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellosvc/hello/internal/config"
)

// chartSetting is a chart value that sets one HELLO_* variable: its schema is generated
// from the service's own config.Bounds, so the chart refuses exactly what the service
// would refuse at start (exit 2), and the two cannot drift.
type chartSetting struct {
	path        string // dotted path in values.yaml
	variable    string
	zeroDefault bool // 0 means "leave the service default"
}

func chartSettings() []chartSetting {
	return []chartSetting{
		{"config.env", "HELLO_ENV", false},
		{"config.logLevel", "HELLO_LOG_LEVEL", false},
		{"config.sessionTTL", "HELLO_SESSION_TTL", false},
		{"config.shutdownTimeout", "HELLO_SHUTDOWN_TIMEOUT", false},
		{"config.dbTimeout", "HELLO_DB_TIMEOUT", false},
		{"config.dbMaxConns", "HELLO_DB_MAX_CONNS", true},
		{"config.hashConcurrency", "HELLO_HASH_CONCURRENCY", true},
		{"config.senderLimit", "HELLO_SENDER_LIMIT", false},
		{"config.authSenderLimit", "HELLO_AUTH_SENDER_LIMIT", false},
		{"config.loginMaxFailures", "HELLO_LOGIN_MAX_FAILURES", false},
		{"config.loginWindow", "HELLO_LOGIN_WINDOW", false},
		{"config.deviceCookies", "HELLO_DEVICE_COOKIES", false},
		{"config.captcha", "HELLO_CAPTCHA", false},
		{"captcha.provider", "HELLO_CAPTCHA_PROVIDER", false},
		{"redis.failure", "HELLO_REDIS_FAILURE", false},
		{"ingress.clientIPHeader", "HELLO_CLIENT_IP_HEADER", false},
	}
}

// durationUnits are the units a chart duration may use, largest first (the service also
// takes us and ns, which no setting of the chart needs).
func durationUnits() []struct {
	name string
	d    time.Duration
} {
	return []struct {
		name string
		d    time.Duration
	}{{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}}
}

// intAtLeast is a regular expression (no anchors) of the decimal numbers >= k, without
// leading zeros.
func intAtLeast(k int) string {
	if k <= 0 {
		return "0|[1-9][0-9]*"
	}
	s := strconv.Itoa(k)
	alts := []string{fmt.Sprintf("[1-9][0-9]{%d,}", len(s)), s}
	for i := 0; i < len(s); i++ {
		if s[i] == '9' {
			continue
		}
		alt := s[:i] + fmt.Sprintf("[%c-9]", s[i]+1)
		switch rest := len(s) - i - 1; {
		case rest == 1:
			alt += "[0-9]"
		case rest > 1:
			alt += fmt.Sprintf("[0-9]{%d}", rest)
		}
		alts = append(alts, alt)
	}
	return strings.Join(alts, "|")
}

// durationAtLeast is a regular expression (no anchors) of the durations >= min written
// as a whole number and one unit: a form a JSON schema can bound, which the chart also
// turns into seconds (config.shutdownTimeout).
func durationAtLeast(min time.Duration) string {
	var alts []string
	if min == 0 {
		alts = append(alts, "0")
	}
	for _, u := range durationUnits() {
		k := int((min + u.d - 1) / u.d)
		alts = append(alts, fmt.Sprintf("(?:%s)%s", intAtLeast(k), u.name))
	}
	return strings.Join(alts, "|")
}

// boundSchema is the JSON schema of a setting's values.
func boundSchema(name string, b config.Bound) map[string]any {
	switch b.Kind {
	case config.KindInt:
		return map[string]any{"type": "integer", "minimum": b.Min, "maximum": b.Max, "description": fmt.Sprintf("%s: %d to %d", name, b.Min, b.Max)}
	case config.KindDuration:
		return map[string]any{"type": "string", "pattern": "^(?:" + durationAtLeast(b.MinDuration) + ")$",
			"description": fmt.Sprintf("%s: a whole number and one unit (h, m, s, ms), at least %s", name, b.MinDuration)}
	case config.KindRate:
		return map[string]any{"type": "string", "pattern": "^(?:" + intAtLeast(b.Min) + ")/(?:" + durationAtLeast(b.MinDuration) + ")$",
			"description": fmt.Sprintf("%s: COUNT/PERIOD, e.g. 600/1m (count at least %d, period a whole number and one unit)", name, b.Min)}
	case config.KindEnum:
		return map[string]any{"type": "string", "enum": b.Values, "description": name}
	}
	return nil
}

// chartVariables are the names the chart's hello.chartVariables template lists.
func chartVariables(t testing.TB) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir, "templates", "_helpers.tpl"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)define "hello.chartVariables" -}}\s*(.*?)\s*{{- end }}`).FindSubmatch(raw)
	if m == nil {
		t.Fatal(`_helpers.tpl has no "hello.chartVariables"`)
	}
	return strings.Fields(string(m[1]))
}

// wantDefinitions are the generated part of values.schema.json's definitions.
func wantDefinitions(t testing.TB) map[string]any {
	bounds := config.Bounds()
	defs := map[string]any{}
	for _, cs := range chartSettings() {
		b, ok := bounds[cs.variable]
		if !ok {
			t.Fatalf("config.Bounds has no %s", cs.variable)
		}
		s := boundSchema(cs.variable, b)
		if s == nil {
			t.Fatalf("%s: no schema for a %q setting", cs.variable, b.Kind)
		}
		defs[cs.variable] = s
	}
	defs["chartVariable"] = map[string]any{"enum": chartVariables(t), "description": "a variable the chart sets itself (hello.chartVariables in _helpers.tpl)"}
	return defs
}

// normalize round-trips v through JSON so Go values compare with decoded ones.
func normalize(t testing.TB, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaBoundsFromConfig: the schema of every chart value that sets a HELLO_* variable
// is generated from config.Bounds (`go test ./... -update` rewrites values.schema.json),
// and each such value refers to its definition.
func TestSchemaBoundsFromConfig(t *testing.T) {
	path := filepath.Join(chartDir, "values.schema.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	defs, _ := schema["definitions"].(map[string]any)
	stale := false
	for name, want := range wantDefinitions(t) {
		if !reflect.DeepEqual(defs[name], normalize(t, want)) {
			stale = true
			if !*update {
				t.Errorf("values.schema.json definitions.%s is not generated from config.Bounds (run `go test ./... -update` in deploy/helm):\n got %v\nwant %v", name, defs[name], normalize(t, want))
			}
			defs[name] = want
		}
	}
	if stale && *update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(schema); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", path)
	}

	ref := map[string]any{"$ref": "#/definitions/chartVariable"}
	if got := lookup(schema, "properties.config.properties.extra.propertyNames.not.anyOf"); !slices.ContainsFunc(got.([]any), func(v any) bool { return reflect.DeepEqual(v, ref) }) {
		t.Errorf("config.extra does not refuse the chart's variables: %v", got)
	}
	if got := lookup(schema, "properties.existingSecret.properties.keys.properties.extra.propertyNames.not"); !reflect.DeepEqual(got, ref) {
		t.Errorf("existingSecret.keys.extra does not refuse the chart's variables: %v", got)
	}

	for _, cs := range chartSettings() {
		node := any(schema)
		for _, p := range strings.Split(cs.path, ".") {
			node = lookup(node.(map[string]any), "properties."+p)
		}
		ref := map[string]any{"$ref": "#/definitions/" + cs.variable}
		want := any(ref)
		if cs.zeroDefault {
			want = map[string]any{"anyOf": []any{map[string]any{"const": 0, "description": "the service default"}, ref}}
		}
		if !reflect.DeepEqual(node, normalize(t, want)) {
			t.Errorf("values.schema.json: %s = %v, want %v", cs.path, node, want)
		}
	}
}

// TestBoundPatterns proves the generated expressions against Go's own parsers.
func TestBoundPatterns(t *testing.T) {
	for _, k := range []int{0, 1, 9, 10, 19, 60, 99, 100, 1000, 1234} {
		re := regexp.MustCompile("^(?:" + intAtLeast(k) + ")$")
		for n := 0; n <= 2000; n++ {
			if got := re.MatchString(strconv.Itoa(n)); got != (n >= k) {
				t.Errorf("intAtLeast(%d) on %d: %v", k, n, got)
			}
		}
		if re.MatchString("01") || re.MatchString("") || re.MatchString("1a") {
			t.Errorf("intAtLeast(%d) accepts a malformed number", k)
		}
	}
	for _, min := range []time.Duration{0, time.Nanosecond, 10 * time.Millisecond, time.Second, 10 * time.Second, time.Minute} {
		re := regexp.MustCompile("^(?:" + durationAtLeast(min) + ")$")
		for n := 0; n <= 150; n++ {
			for _, u := range durationUnits() {
				s := strconv.Itoa(n) + u.name
				d, err := time.ParseDuration(s)
				if err != nil {
					t.Fatal(err)
				}
				if got := re.MatchString(s); got != (d >= min) {
					t.Errorf("durationAtLeast(%s) on %s: %v", min, s, got)
				}
			}
		}
		for _, bad := range []string{"1h30m", "1.5h", "10", "1d", "-1s", "s"} {
			if re.MatchString(bad) {
				t.Errorf("durationAtLeast(%s) accepts %q", min, bad)
			}
		}
	}
	if !slices.Contains(chartVariables(t), "HELLO_SECRET") {
		t.Errorf("chartVariables = %v", chartVariables(t))
	}
}

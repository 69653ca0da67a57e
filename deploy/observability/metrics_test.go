// Package observability holds hello's Grafana dashboard and Prometheus alerting rules; its
// tests keep them importable and true to the metrics the service really exports.
package observability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/hellosvc/hello/internal/testenv"
)

const (
	dashboardPath = "grafana/hello.json"
	rulesPath     = "prometheus/rules.yaml"
	readmePath    = "README.md"
	// datasourceRef is the only datasource uid the dashboard may use: its own variable, so an
	// import picks the Prometheus it runs against.
	datasourceRef = "${datasource}"
)

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	Targets    []panelTarget            `json:"targets"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Panels     []panel                  `json:"panels"` // a collapsed row keeps its panels here
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panelTarget struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *datasource `json:"datasource"`
}

type variable struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Query      any         `json:"query"`
	Definition string      `json:"definition"`
	Datasource *datasource `json:"datasource"`
}

// ruleFile is Prometheus' rule file format; unknown keys are refused, so a misspelt field
// (annotation:, label:) fails here instead of being ignored by Prometheus.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// selector is one metric selector found in a PromQL expression, with where it was found.
type selector struct {
	metric string
	labels []string // label names its matchers use
	where  string
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not a dashboard: %v", dashboardPath, err)
	}
	return d
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f ruleFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s is not a Prometheus rule file: %v", rulesPath, err)
	}
	return f
}

// graphPanels returns the panels that draw data: rows are containers, their collapsed
// children are panels too.
func graphPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		if p.Type == "row" {
			out = append(out, graphPanels(p.Panels)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// grafanaToPromQL replaces Grafana's interval variables ($__rate_interval…) by a duration so
// the expression parses; other variables only appear inside label-matcher strings.
func grafanaToPromQL(expr string) string {
	return regexp.MustCompile(`\$\{?__\w+\}?`).ReplaceAllString(expr, "5m")
}

// selectors parses expr and returns its metric selectors.
func selectors(expr, where string) ([]selector, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := selector{metric: vs.Name, where: where}
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel {
				s.metric = m.Value
				continue
			}
			s.labels = append(s.labels, m.Name)
		}
		out = append(out, s)
		return nil
	})
	return out, nil
}

func dashboardSelectors(t *testing.T, d dashboard) []selector {
	t.Helper()
	var out []selector
	for _, p := range graphPanels(d.Panels) {
		for _, tg := range p.Targets {
			s, err := selectors(grafanaToPromQL(tg.Expr), fmt.Sprintf("panel %q query %s", p.Title, tg.RefID))
			if err != nil {
				t.Errorf("panel %q query %s: %v", p.Title, tg.RefID, err)
			}
			out = append(out, s...)
		}
	}
	labelValues := regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)
	for _, v := range d.Templating.List {
		if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
			out = append(out, selector{metric: m[1], where: fmt.Sprintf("variable %q", v.Name)})
		}
	}
	return out
}

func ruleSelectors(t *testing.T, f ruleFile) []selector {
	t.Helper()
	var out []selector
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			s, err := selectors(r.Expr, "rule "+r.Alert+r.Record)
			if err != nil {
				t.Errorf("rule %s%s: %v", r.Alert, r.Record, err)
			}
			out = append(out, s...)
		}
	}
	return out
}

func TestDashboardImports(t *testing.T) {
	d := loadDashboard(t)
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion = %d, want 39 or later", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q and title %q must both be set", d.UID, d.Title)
	}
	hasVar := slices.ContainsFunc(d.Templating.List, func(v variable) bool {
		return v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus"
	})
	if !hasVar {
		t.Errorf("no Prometheus datasource variable named datasource in templating.list")
	}
	for _, v := range d.Templating.List {
		if v.Datasource != nil && v.Datasource.UID != datasourceRef {
			t.Errorf("variable %q uses datasource uid %q, want %q", v.Name, v.Datasource.UID, datasourceRef)
		}
	}

	ids := map[int]string{}
	panels := graphPanels(d.Panels)
	if len(panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	for _, p := range panels {
		t.Run(p.Title, func(t *testing.T) {
			if other, dup := ids[p.ID]; dup {
				t.Errorf("id %d is also panel %q's", p.ID, other)
			}
			ids[p.ID] = p.Title
			if p.Datasource == nil || p.Datasource.UID != datasourceRef {
				t.Errorf("datasource = %+v, want uid %q", p.Datasource, datasourceRef)
			}
			if len(p.Targets) == 0 {
				t.Error("no targets")
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("refId %q is empty or repeated", tg.RefID)
				}
				refs[tg.RefID] = true
				if tg.Datasource != nil && tg.Datasource.UID != datasourceRef {
					t.Errorf("query %s uses datasource uid %q, want %q", tg.RefID, tg.Datasource.UID, datasourceRef)
				}
				if _, err := selectors(grafanaToPromQL(tg.Expr), ""); err != nil {
					t.Errorf("query %s does not parse: %v\n%s", tg.RefID, err, tg.Expr)
				}
			}
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("gridPos %+v is outside the 24-column grid", g)
			}
		})
	}
	// Overlapping panels are pushed around by Grafana on import: the layout would not be ours.
	all := d.Panels
	for i, a := range all {
		for _, b := range all[i+1:] {
			ga, gb := a.GridPos, b.GridPos
			if ga.X < gb.X+gb.W && gb.X < ga.X+ga.W && ga.Y < gb.Y+gb.H && gb.Y < ga.Y+ga.H {
				t.Errorf("panels %q and %q overlap", a.Title, b.Title)
			}
		}
	}
}

// TestDashboardChartsEveryConcern checks that each thing an operator must see during an
// attack or an outage has a panel querying the metric that shows it.
func TestDashboardChartsEveryConcern(t *testing.T) {
	sels := dashboardSelectors(t, loadDashboard(t))
	for _, tc := range []struct{ concern, metric string }{
		{"login outcomes per second", "hello_logins_total"},
		{"trusted-device vs other login latency", "hello_login_duration_seconds_bucket"},
		{"lockouts per second", "hello_guard_lockouts_total"},
		{"guard refusals by policy", "hello_guard_decisions_total"},
		{"refusals summarised in the log", "hello_guard_refusals_logged_total"},
		{"limiter Redis fallback active", "hello_limiter_fallback_active"},
		{"limiter Redis errors", "hello_limiter_redis_errors_total"},
		{"Redis eviction policy", "hello_limiter_redis_evicting"},
		{"hashing queue length per class", "hello_hash_queue_length"},
		{"hashing wait p99 per class", "hello_hash_wait_seconds_bucket"},
		{"shed requests per class", "hello_hash_shed_total"},
		{"hashing slots", "hello_hash_slots"},
		{"storage shard availability", "hello_store_shard_up"},
		{"HTTP 5xx rate", "hello_http_requests_total"},
		{"request latency", "hello_http_request_duration_seconds_bucket"},
	} {
		if !slices.ContainsFunc(sels, func(s selector) bool { return s.metric == tc.metric }) {
			t.Errorf("no panel shows %s (%s)", tc.concern, tc.metric)
		}
	}
}

func TestRulesAreValidRuleGroups(t *testing.T) {
	f := loadRules(t)
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	// Prometheus evaluates annotations as Go templates with these variables defined first.
	const defs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	funcs := template.FuncMap{}
	for _, name := range []string{"humanize", "humanize1024", "humanizeDuration", "humanizePercentage",
		"humanizeTimestamp", "toTime", "title", "toUpper", "toLower", "match", "reReplaceAll", "query",
		"first", "label", "value", "strvalue", "sortByLabel", "stripPort", "stripDomain", "parseDuration",
		"safeHtml", "args", "tableLink", "graphLink", "pathPrefix", "externalURL"} {
		funcs[name] = func(...any) any { return nil }
	}
	groups, names := map[string]bool{}, map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || groups[g.Name] {
			t.Errorf("group name %q is empty or repeated", g.Name)
		}
		groups[g.Name] = true
		if g.Interval != "" {
			if _, err := model.ParseDuration(g.Interval); err != nil {
				t.Errorf("group %s: interval: %v", g.Name, err)
			}
		}
		if len(g.Rules) == 0 {
			t.Errorf("group %s has no rules", g.Name)
		}
		for _, r := range g.Rules {
			t.Run(r.Alert+r.Record, func(t *testing.T) {
				if r.Record != "" || r.Alert == "" {
					t.Fatalf("want an alerting rule (alert: set, record: unset), got alert %q record %q", r.Alert, r.Record)
				}
				if !model.UTF8Validation.IsValidMetricName(r.Alert) || names[r.Alert] {
					t.Errorf("alert name %q is invalid or repeated", r.Alert)
				}
				names[r.Alert] = true
				if _, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr); err != nil {
					t.Errorf("expr does not parse: %v", err)
				}
				if d, err := model.ParseDuration(r.For); err != nil || d <= 0 {
					t.Errorf("for: %q, want a positive duration (%v)", r.For, err)
				}
				if s := r.Labels["severity"]; s != "critical" && s != "warning" {
					t.Errorf("severity label %q, want critical or warning", s)
				}
				for _, a := range []string{"summary", "description"} {
					text := r.Annotations[a]
					if strings.TrimSpace(text) == "" {
						t.Errorf("no %s annotation", a)
					}
					if _, err := template.New(a).Funcs(funcs).Parse(defs + text); err != nil {
						t.Errorf("%s annotation is not a valid template: %v", a, err)
					}
				}
				if !bytes.Contains(readme, []byte("### "+r.Alert+"\n")) {
					t.Errorf("%s has no runbook section (### %s)", readmePath, r.Alert)
				}
			})
		}
	}
}

// TestEveryIncidentHasAnAlert checks that each incident the service can be in is watched by
// an alert on the metric that shows it.
func TestEveryIncidentHasAnAlert(t *testing.T) {
	f := loadRules(t)
	watches := func(alert, metric, label string) bool {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Alert == alert && strings.Contains(r.Expr, metric) && strings.Contains(r.Expr, label) {
					return true
				}
			}
		}
		return false
	}
	for _, tc := range []struct{ incident, alert, metric, label string }{
		{"credential stuffing: failures far above normal", "HelloCredentialStuffing", "hello_logins_total", `invalid_credentials`},
		{"credential stuffing: captcha_required surging", "HelloCredentialStuffing", "hello_logins_total", `outcome="captcha_required"`},
		{"surge of lockouts", "HelloLockoutSurge", "hello_guard_lockouts_total", ""},
		{"trusted-device logins failing", "HelloTrustedLoginsFailing", "hello_hash_shed_total", `class="trusted"`},
		{"trusted-device login latency above the SLO", "HelloTrustedLoginSlow", "hello_login_duration_seconds_bucket", `class="trusted"`},
		{"limiter on its Redis fallback", "HelloLimiterRedisFallback", "hello_limiter_fallback_active", ""},
		{"storage shard unavailable", "HelloStoreShardDown", "hello_store_shard_up", ""},
		{"hashing queue near its limit", "HelloHashQueueSaturated", "hello_hash_queue_length", "hello_hash_slots"},
		{"Redis eviction policy unsafe", "HelloRedisEvictionUnsafe", "hello_limiter_redis_evicting", "== 1"},
	} {
		if !watches(tc.alert, tc.metric, tc.label) {
			t.Errorf("%s: no alert %s on %s %s", tc.incident, tc.alert, tc.metric, tc.label)
		}
	}
}

// TestReferencedMetricsAreExported runs hello (with Redis, so the limiter store's metrics
// exist) through a signup, logins, failures and a lockout, scrapes /metrics, and checks that
// every metric and label the dashboard and the rules query is there. It reports every missing
// name at once.
func TestReferencedMetricsAreExported(t *testing.T) {
	redis := testenv.StartRedis(t)
	h := testenv.StartHello(t, map[string]string{
		"HELLO_REDIS_URL":          redis.URL(),
		"HELLO_LOGIN_MAX_FAILURES": "3",
	})

	const user, pass = "alice", "correct horse battery"
	creds := func(password string) string {
		return fmt.Sprintf(`{"username":%q,"password":%q}`, user, password)
	}
	owner, attacker := testenv.NewClient(t, h.URL), testenv.NewClient(t, h.URL)
	steps := []struct {
		name   string
		client *testenv.Client
		path   string
		body   string
		status int
	}{
		{"signup", owner, "/api/signup", creds(pass), http.StatusCreated},
		{"login, new device", owner, "/api/login", creds(pass), http.StatusOK},
		{"wrong password 1", attacker, "/api/login", creds("wrong password 1"), http.StatusUnauthorized},
		{"wrong password 2", attacker, "/api/login", creds("wrong password 2"), http.StatusUnauthorized},
		{"wrong password 3", attacker, "/api/login", creds("wrong password 3"), http.StatusUnauthorized},
		{"locked out", attacker, "/api/login", creds("wrong password 4"), http.StatusTooManyRequests},
		{"login, trusted device", owner, "/api/login", creds(pass), http.StatusOK},
	}
	for _, s := range steps {
		if r := s.client.PostJSON(s.path, s.body); r.Status != s.status {
			t.Fatalf("%s: status %d, want %d\n%s", s.name, r.Status, s.status, r.Body)
		}
	}

	// Prometheus attaches these when it scrapes; the service does not export them.
	targetLabels := []string{"job", "instance", "namespace", "pod"}
	families := scrape(t, h.AdminURL)
	d, f := loadDashboard(t), loadRules(t)
	var problems []string
	for _, s := range append(dashboardSelectors(t, d), ruleSelectors(t, f)...) {
		fam, labels := family(families, s.metric)
		if fam == nil {
			problems = append(problems, fmt.Sprintf("metric %s (used by %s) is not exported", s.metric, s.where))
			continue
		}
		for _, l := range s.labels {
			if !slices.Contains(labels, l) && !slices.Contains(targetLabels, l) {
				problems = append(problems, fmt.Sprintf("metric %s has no label %q (used by %s)", s.metric, l, s.where))
			}
		}
	}
	slices.Sort(problems)
	if problems = slices.Compact(problems); len(problems) > 0 {
		t.Errorf("%d problems with the metrics the dashboard and rules query:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}

	// The run above must move the series the panels and alerts watch.
	for _, tc := range []struct {
		family string
		labels map[string]string
		min    float64
	}{
		{"hello_logins_total", map[string]string{"outcome": "success"}, 2},
		{"hello_logins_total", map[string]string{"outcome": "invalid_credentials"}, 3},
		{"hello_logins_total", map[string]string{"outcome": "too_many_attempts"}, 1},
		{"hello_guard_lockouts_total", nil, 1},
		{"hello_login_duration_seconds", map[string]string{"class": "trusted"}, 1},
		{"hello_login_duration_seconds", map[string]string{"class": "other"}, 1},
	} {
		if got := value(families[tc.family], tc.labels); got < tc.min {
			t.Errorf("%s%v = %v after the run, want at least %v", tc.family, tc.labels, got, tc.min)
		}
	}
	// The one database answers, so the shard panel and HelloStoreShardDown see it up.
	shards := families["hello_store_shard_up"].GetMetric()
	if len(shards) == 0 {
		t.Error("hello_store_shard_up has no series")
	}
	for _, m := range shards {
		if m.GetGauge().GetValue() != 1 {
			t.Errorf("hello_store_shard_up%v = %v, want 1: the database answers", m.GetLabel(), m.GetGauge().GetValue())
		}
	}
}

func scrape(t *testing.T, adminURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// family finds the exported family a selector's metric name belongs to (a histogram's
// _bucket, _sum and _count series belong to the histogram) and the label names its series carry.
func family(families map[string]*dto.MetricFamily, name string) (*dto.MetricFamily, []string) {
	fam := families[name]
	var extra []string
	if fam == nil {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base, ok := strings.CutSuffix(name, suffix)
			f := families[base]
			if !ok || f == nil {
				continue
			}
			switch t := f.GetType(); {
			case t == dto.MetricType_HISTOGRAM, t == dto.MetricType_GAUGE_HISTOGRAM:
				fam = f
			case t == dto.MetricType_SUMMARY && suffix != "_bucket":
				fam = f
			}
			if fam != nil && suffix == "_bucket" {
				extra = append(extra, "le")
			}
		}
	}
	if fam == nil {
		return nil, nil
	}
	labels := extra
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName())
		}
	}
	return fam, labels
}

// value sums the series of fam whose labels include want: counters and gauges by value,
// histograms by observation count.
func value(fam *dto.MetricFamily, want map[string]string) float64 {
	var sum float64
	for _, m := range fam.GetMetric() {
		match := true
		for k, v := range want {
			match = match && slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
				return l.GetName() == k && l.GetValue() == v
			})
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

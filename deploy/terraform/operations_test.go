package terraform_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/moby/patternmatcher"
	"github.com/zclconf/go-cty/cty"
)

// Tests for what breaks or is missing after the first apply (issue 13):
// each reads the HCL the way terraform would and fails on the tree before
// the fix.

// --- helpers ------------------------------------------------------------------

func oneBlock(t *testing.T, files []*tfFile, dir, typ, label string) fileBlock {
	t.Helper()
	var found []fileBlock
	for _, b := range blocksOf(filesIn(files, dir), typ, "") {
		if len(b.Block.Labels) > 0 && b.Block.Labels[len(b.Block.Labels)-1] == label {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: want one %s %q, found %d", dir, typ, label, len(found))
	}
	return found[0]
}

func resourceBlock(t *testing.T, files []*tfFile, dir, typ, name string) fileBlock {
	t.Helper()
	for _, b := range blocksOf(filesIn(files, dir), "resource", typ) {
		if b.Block.Labels[1] == name {
			return b
		}
	}
	t.Fatalf("%s: no resource %s.%s", dir, typ, name)
	return fileBlock{}
}

func attrSrc(t *testing.T, fb fileBlock, name string) string {
	t.Helper()
	a, ok := fb.Block.Body.Attributes[name]
	if !ok {
		t.Fatalf("%s: %s %v does not set %s", fb.File.Path, fb.Block.Type, fb.Block.Labels, name)
	}
	return fb.File.text(a.Expr.Range())
}

func nested(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, nb := range b.Body.Blocks {
		if nb.Type == typ {
			out = append(out, nb)
		}
	}
	return out
}

// rootContext is the evaluation context of the environment root for the
// given environment name: var.environment plus every local computable from
// variables alone (local.name, local.production, ...).
func rootContext(t *testing.T, files []*tfFile, env string) *hcl.EvalContext {
	t.Helper()
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var":   cty.ObjectVal(map[string]cty.Value{"environment": cty.StringVal(env)}),
		"local": cty.EmptyObjectVal,
	}}
	locals := map[string]cty.Value{}
	for progress := true; progress; {
		progress = false
		for _, lb := range blocksOf(filesIn(files, "environments/"+env), "locals", "") {
			for name, a := range lb.Block.Body.Attributes {
				if _, done := locals[name]; done {
					continue
				}
				if v, diags := a.Expr.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
					locals[name], progress = v, true
					ctx.Variables["local"] = cty.ObjectVal(locals)
				}
			}
		}
	}
	return ctx
}

// moduleArg evaluates an argument of a module call in the root of env.
func moduleArg(t *testing.T, files []*tfFile, env, module, arg string) cty.Value {
	t.Helper()
	mb := oneBlock(t, files, "environments/"+env, "module", module)
	a, ok := mb.Block.Body.Attributes[arg]
	if !ok {
		t.Fatalf("module %s: %s is not set", module, arg)
	}
	v, diags := a.Expr.Value(rootContext(t, files, env))
	if diags.HasErrors() {
		t.Fatalf("module %s: %s does not evaluate from variables alone: %s", module, arg, diags.Error())
	}
	return v
}

// validationPasses evaluates the validation blocks of a root variable for
// the given variable values.
func validationPasses(t *testing.T, files []*tfFile, variable string, vars map[string]cty.Value) bool {
	t.Helper()
	vb := oneBlock(t, files, "environments/staging", "variable", variable)
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}}
	for _, v := range nested(vb.Block, "validation") {
		res, diags := v.Body.Attributes["condition"].Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("variable %s: validation does not evaluate: %s", variable, diags.Error())
		}
		if res.False() {
			return false
		}
	}
	return true
}

// containerEnvironment returns the local map that feeds a module argument,
// as source text, by following `local.<name>`.
func localSrc(t *testing.T, files []*tfFile, dir, name string) string {
	t.Helper()
	for _, lb := range blocksOf(filesIn(files, dir), "locals", "") {
		if a, ok := lb.Block.Body.Attributes[name]; ok {
			return lb.File.text(a.Expr.Range())
		}
	}
	t.Fatalf("%s: no local %s", dir, name)
	return ""
}

// --- 1. the weekly password rotation no longer reaches the service ----------

func TestServiceConnectsWithIAMDatabaseAuth(t *testing.T) {
	files := parseAll(t)
	for _, db := range blocksOf(files, "resource", "aws_db_instance") {
		requireLiteral(t, db, "iam_database_authentication_enabled", cty.True)
	}

	// serve: IAM auth, the application user's DSNs, no master password.
	env := localSrc(t, files, "environments/staging", "hello_environment")
	for _, want := range []string{`HELLO_DB_IAM_AUTH        = "on"`, "module.database.shards_config"} {
		if !strings.Contains(env, want) {
			t.Errorf("the service's environment lacks %s", want)
		}
	}
	svc := oneBlock(t, files, "environments/staging", "module", "service")
	if s := attrSrc(t, svc, "secrets"); s != "local.hello_secrets" {
		t.Errorf("service secrets = %s, want local.hello_secrets", s)
	}
	if s := localSrc(t, files, "environments/staging", "hello_secrets"); strings.Contains(s, "module.database") {
		t.Error("the service's secrets include a database secret: serve must never hold the master password")
	}
	if s := attrSrc(t, svc, "rds_iam_connect_arns"); s != "module.database.iam_connect_arns" {
		t.Errorf("service rds_iam_connect_arns = %s, want module.database.iam_connect_arns", s)
	}
	// admin: the master secrets and the DSNs with their placeholders.
	if s := attrSrc(t, svc, "admin_secrets"); s != "module.database.password_secrets" {
		t.Errorf("service admin_secrets = %s, want module.database.password_secrets", s)
	}
	if s := localSrc(t, files, "environments/staging", "hello_admin_environment"); !strings.Contains(s, "module.database.admin_shards_config") || !strings.Contains(s, "HELLO_DB_APP_USER") {
		t.Error("the admin task must get the admin HELLO_SHARDS and HELLO_DB_APP_USER")
	}

	// The DSNs: the service's carries the application user and no password.
	app := oneBlock(t, files, "modules/database", "output", "shards_config")
	if s := attrSrc(t, app, "value"); !strings.Contains(s, "var.app_username}@") || strings.Contains(s, "PASSWORD") {
		t.Errorf("shards_config must be postgres://<app user>@host without a password: %s", s)
	}
	admin := oneBlock(t, files, "modules/database", "output", "admin_shards_config")
	if s := attrSrc(t, admin, "value"); !strings.Contains(s, "var.master_username}:$${${local.shard_env_var[s]}}@") {
		t.Errorf("admin_shards_config must carry the master user with its password placeholder: %s", s)
	}
	// rds-db:connect exactly as the application user on each shard.
	arns := attrSrc(t, oneBlock(t, files, "modules/database", "output", "iam_connect_arns"), "value")
	for _, want := range []string{":rds-db:", ":dbuser:", ".resource_id}/${var.app_username}"} {
		if !strings.Contains(arns, want) {
			t.Errorf("iam_connect_arns lacks %q: %s", want, arns)
		}
	}
	task := oneBlock(t, files, "modules/service", "data", "task")
	ok := false
	for _, st := range nested(task.Block, "statement") {
		actions := task.File.text(st.Body.Attributes["actions"].Expr.Range())
		if strings.Contains(actions, "rds-db:connect") {
			ok = task.File.text(st.Body.Attributes["resources"].Expr.Range()) == "var.rds_iam_connect_arns"
		}
	}
	if !ok {
		t.Error("the service's task role must allow rds-db:connect on exactly var.rds_iam_connect_arns")
	}
	if s := attrSrc(t, resourceBlock(t, files, "modules/service", "aws_ecs_task_definition", "this"), "task_role_arn"); s != "aws_iam_role.task.arn" {
		t.Errorf("the service's task definition runs with %s, want aws_iam_role.task.arn", s)
	}
}

// The schema and the application user come from a one-off task: the admin
// task definition runs `migrate` with its own execution role, and the
// migrate_command output runs it.
func TestMigrateRunsAsOneOffAdminTask(t *testing.T) {
	files := parseAll(t)
	td := resourceBlock(t, files, "modules/service", "aws_ecs_task_definition", "admin")
	cd := attrSrc(t, td, "container_definitions")
	if !strings.Contains(cd, `command                = ["migrate"]`) || !strings.Contains(cd, `local.container_secrets["admin"]`) {
		t.Errorf("admin task definition must run migrate with the admin secrets: %s", cd)
	}
	if s := attrSrc(t, td, "execution_role_arn"); s != `aws_iam_role.execution["admin"].arn` {
		t.Errorf("admin task definition uses execution role %s", s)
	}
	serve := attrSrc(t, resourceBlock(t, files, "modules/service", "aws_ecs_task_definition", "this"), "container_definitions")
	if !strings.Contains(serve, `command                = ["serve"]`) || !strings.Contains(serve, `local.container_secrets["serve"]`) {
		t.Error("the service runs serve with the serve secrets only")
	}
	out := attrSrc(t, oneBlock(t, files, "environments/staging", "output", "migrate_command"), "value")
	if !strings.Contains(out, "module.service.admin_task_definition_family") || !strings.Contains(out, `command = ["migrate"]`) {
		t.Errorf("migrate_command must run the admin task definition: %s", out)
	}
}

// --- 2. a way in ------------------------------------------------------------

func TestPrivateEntryIsOnByDefault(t *testing.T) {
	files := parseAll(t)
	for _, env := range environments(t) {
		pe := oneBlock(t, files, "environments/"+env, "module", "private_entry")
		for _, meta := range []string{"count", "for_each"} {
			if _, ok := pe.Block.Body.Attributes[meta]; ok {
				t.Errorf("%s: the private entry must not be optional (%s)", env, meta)
			}
		}
		if v := moduleArg(t, files, env, "private_entry", "internal"); !v.True() {
			t.Errorf("%s: the private entry must be internal", env)
		}
		for arg, want := range map[string]string{
			"subnet_ids":      "module.network.lb_subnet_ids",
			"certificate_arn": "var.private_entry_certificate_arn",
		} {
			if s := attrSrc(t, pe, arg); s != want {
				t.Errorf("%s: private_entry %s = %s, want %s", env, arg, s, want)
			}
		}
		if s := attrSrc(t, pe, "ingress_cidr_blocks"); exprMentionsOpenCIDR(pe.Block.Body.Attributes["ingress_cidr_blocks"].Expr) || !strings.Contains(s, "vpc_cidr_block") {
			t.Errorf("%s: the private entry admits %s, want the VPC (or listed private networks)", env, s)
		}
		if s := localSrc(t, files, "environments/"+env, "load_balancers"); !strings.Contains(s, "module.private_entry.target_group_arn") {
			t.Errorf("%s: the service is not registered with the private entry", env)
		}
	}
	// HTTPS, and its certificate is required in production.
	cert := func(env string, arn cty.Value) bool {
		return validationPasses(t, files, "private_entry_certificate_arn", map[string]cty.Value{
			"environment": cty.StringVal(env), "private_entry_certificate_arn": arn,
		})
	}
	someARN := cty.StringVal("arn:aws:acm:eu-central-1:123456789012:certificate/x")
	if cert("production", cty.NullVal(cty.String)) || !cert("production", someARN) || !cert("staging", cty.NullVal(cty.String)) {
		t.Error("private_entry_certificate_arn must be required in production, and only there")
	}
	https := resourceBlock(t, files, "modules/edge", "aws_lb_listener", "https")
	if p, _ := literalString(https.Block.Body.Attributes["protocol"].Expr); p != "HTTPS" || attrSrc(t, https, "certificate_arn") != "var.certificate_arn" {
		t.Error("the entry's listener must be HTTPS with var.certificate_arn")
	}
	if s := attrSrc(t, resourceBlock(t, files, "modules/edge", "aws_lb", "this"), "internal"); s != "var.internal" {
		t.Errorf("aws_lb.internal = %s, want var.internal", s)
	}
	// The public edge stays opt-in.
	if s := attrSrc(t, oneBlock(t, files, "environments/staging", "module", "edge"), "count"); !strings.Contains(s, "var.edge_enabled") {
		t.Errorf("the public edge must stay behind edge_enabled: count = %s", s)
	}
}

// The service believes the client address only from the load balancers'
// own subnets, in the header they append to.
func TestTrustedProxiesAreTheLoadBalancerSubnets(t *testing.T) {
	files := parseAll(t)
	env := localSrc(t, files, "environments/staging", "hello_environment")
	if !strings.Contains(env, `HELLO_CLIENT_IP_HEADER   = "X-Forwarded-For"`) || !strings.Contains(env, "HELLO_TRUSTED_PROXIES    = join(\",\", local.trusted_proxies)") {
		t.Errorf("the service must set HELLO_CLIENT_IP_HEADER=X-Forwarded-For and HELLO_TRUSTED_PROXIES: %s", env)
	}
	tp := localSrc(t, files, "environments/staging", "trusted_proxies")
	if !strings.Contains(tp, "module.network.lb_subnet_cidrs") || strings.Contains(tp, "private_subnet") || strings.Contains(tp, "vpc_cidr") {
		t.Errorf("trusted proxies must be the load-balancer subnets, not the tasks' subnets or the VPC: %s", tp)
	}
	lb := resourceBlock(t, files, "modules/network", "aws_subnet", "lb")
	pr := resourceBlock(t, files, "modules/network", "aws_subnet", "private")
	if attrSrc(t, lb, "cidr_block") == attrSrc(t, pr, "cidr_block") {
		t.Error("the load-balancer subnets must not be the tasks' subnets")
	}
}

// --- 3. the service waits for the listener ----------------------------------

func TestTargetGroupOutputWaitsForListeners(t *testing.T) {
	files := parseAll(t)
	out := oneBlock(t, files, "modules/edge", "output", "target_group_arn")
	deps := ""
	if a, ok := out.Block.Body.Attributes["depends_on"]; ok {
		deps = out.File.text(a.Expr.Range())
	}
	for _, l := range blocksOf(filesIn(files, "modules/edge"), "resource", "aws_lb_listener") {
		if forwards := strings.Contains(string(l.File.text(l.Block.Range())), "aws_lb_target_group.this.arn"); forwards && !strings.Contains(deps, "aws_lb_listener."+l.Block.Labels[1]) {
			t.Errorf("output target_group_arn does not depend on aws_lb_listener.%s: ECS could create the service before the target group has a load balancer", l.Block.Labels[1])
		}
	}
	for _, lb := range []string{"module.private_entry.target_group_arn", "module.edge[0].target_group_arn"} {
		if !strings.Contains(localSrc(t, files, "environments/staging", "load_balancers"), lb) {
			t.Errorf("the service must take %s from the module output", lb)
		}
	}
}

// --- 4. one truth for the Redis AUTH token ----------------------------------

func TestRedisTokenComesFromTheSecret(t *testing.T) {
	files := parseAll(t)
	rg := resourceBlock(t, files, "modules/cache", "aws_elasticache_replication_group", "this")
	wo := attrSrc(t, rg, "auth_token_wo")
	if !strings.HasPrefix(wo, "ephemeral.aws_secretsmanager_secret_version.") || strings.Contains(wo, "random_password") {
		t.Fatalf("auth_token_wo = %s: it must be read from the secret, not generated beside it", wo)
	}
	name := strings.Split(wo, ".")[2]
	var read fileBlock
	for _, e := range blocksOf(filesIn(files, "modules/cache"), "ephemeral", "aws_secretsmanager_secret_version") {
		if e.Block.Labels[1] == name {
			read = e
		}
	}
	if read.Block == nil {
		t.Fatalf("no ephemeral aws_secretsmanager_secret_version.%s", name)
	}
	if s := attrSrc(t, read, "version_id"); !regexp.MustCompile(`^aws_secretsmanager_secret_version\.\w+\.version_id$`).MatchString(s) {
		t.Errorf("the token must be read from the secret version just written (version_id = %s)", s)
	}
	written := resourceBlock(t, files, "modules/cache", "aws_secretsmanager_secret_version", strings.Split(attrSrc(t, read, "version_id"), ".")[1])
	if attrSrc(t, written, "secret_id") != attrSrc(t, read, "secret_id") {
		t.Error("the token is read from another secret than the one written")
	}
	requireLiteral(t, rg, "apply_immediately", cty.True)
	if s, _ := literalString(rg.Block.Body.Attributes["auth_token_update_strategy"].Expr); s != "ROTATE" {
		t.Error(`auth_token_update_strategy must be "ROTATE" (old and new token valid while tasks roll)`)
	}
	if attrSrc(t, rg, "auth_token_wo_version") != attrSrc(t, written, "secret_string_wo_version") {
		t.Error("the group's token version must follow the secret's")
	}
}

// --- 5. verified TLS to the database -----------------------------------------

func TestDatabaseTLSIsVerifiedWithTheBakedBundle(t *testing.T) {
	files := parseAll(t)
	for _, f := range files {
		if strings.Contains(string(f.Src), "sslmode=require") {
			t.Errorf("%s: sslmode=require does not verify the server", f.Path)
		}
	}
	q := localSrc(t, files, "modules/database", "dsn_query")
	if q != `"sslmode=verify-full&sslrootcert=${var.ca_bundle_path}"` {
		t.Errorf("dsn_query = %s, want verify-full against var.ca_bundle_path", q)
	}
	for _, out := range []string{"shards_config", "admin_shards_config"} {
		if !strings.Contains(attrSrc(t, oneBlock(t, files, "modules/database", "output", out), "value"), "local.dsn_query") {
			t.Errorf("output %s must use local.dsn_query", out)
		}
	}
	caPath, _ := literalString(oneBlock(t, files, "modules/database", "variable", "ca_bundle_path").Block.Body.Attributes["default"].Expr)

	// The image carries the bundle where the DSNs look for it.
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^COPY deploy/certs/rds-ca\.pem ` + regexp.QuoteMeta(caPath) + `$`).Match(dockerfile) {
		t.Errorf("the Dockerfile must COPY deploy/certs/rds-ca.pem %s", caPath)
	}
	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(strings.Fields(string(ignore)))
	if err != nil {
		t.Fatal(err)
	}
	for path, wantExcluded := range map[string]bool{"deploy/certs/rds-ca.pem": false, "deploy/certs/refresh": true} {
		if excluded, _ := pm.MatchesOrParentMatches(path); excluded != wantExcluded {
			t.Errorf(".dockerignore: %s excluded = %v, want %v", path, excluded, wantExcluded)
		}
	}

	// The bundle: CA certificates only, with a currently valid RDS root of
	// each family for every region the environments use.
	raw, err := os.ReadFile("../certs/rds-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	roots := map[string]bool{}
	n := 0
	for rest := raw; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		n++
		if !c.IsCA {
			t.Errorf("%s is not a CA certificate", c.Subject.CommonName)
		}
		if time.Now().Before(c.NotAfter) && c.Subject.String() == c.Issuer.String() {
			roots[c.Subject.CommonName] = true
		}
	}
	if n < 3 {
		t.Fatalf("rds-ca.pem holds %d certificates", n)
	}
	for _, env := range environments(t) {
		region := tfvars(t, env)["aws_region"].AsString()
		for _, family := range []string{"RSA2048 G1", "RSA4096 G1", "ECC384 G1"} {
			if cn := "Amazon RDS " + region + " Root CA " + family; !roots[cn] {
				t.Errorf("rds-ca.pem has no valid %q (run deploy/certs/refresh)", cn)
			}
		}
	}
}

// --- 6. Redis never evicts the limiter's keys ---------------------------------

func TestRedisNeverEvicts(t *testing.T) {
	files := parseAll(t)
	rg := resourceBlock(t, files, "modules/cache", "aws_elasticache_replication_group", "this")
	pgRef := attrSrc(t, rg, "parameter_group_name")
	m := regexp.MustCompile(`^aws_elasticache_parameter_group\.(\w+)\.name$`).FindStringSubmatch(pgRef)
	if m == nil {
		t.Fatalf("parameter_group_name = %s: the default group evicts (volatile-lru); use the module's own", pgRef)
	}
	pg := resourceBlock(t, files, "modules/cache", "aws_elasticache_parameter_group", m[1])
	policy := ""
	for _, p := range nested(pg.Block, "parameter") {
		if n, _ := literalString(p.Body.Attributes["name"].Expr); n == "maxmemory-policy" {
			policy, _ = literalString(p.Body.Attributes["value"].Expr)
		}
	}
	if policy != "noeviction" {
		t.Errorf("maxmemory-policy = %q, want noeviction", policy)
	}
	alarms := metricsAlarmed(files)
	for _, metric := range []string{"DatabaseMemoryUsagePercentage", "Evictions"} {
		if !alarms[metric] {
			t.Errorf("no alarm on Redis %s", metric)
		}
	}
}

// --- pinning: logical replication for shard moves ------------------------------

func TestShardsAllowLogicalReplication(t *testing.T) {
	files := parseAll(t)
	pg := resourceBlock(t, files, "modules/database", "aws_db_parameter_group", "this")
	for _, p := range nested(pg.Block, "parameter") {
		if n, _ := literalString(p.Body.Attributes["name"].Expr); n == "rds.logical_replication" {
			if v, _ := literalString(p.Body.Attributes["value"].Expr); v == "1" {
				return
			}
		}
	}
	t.Error("the shard parameter group must set rds.logical_replication = 1 (shard moves)")
}

// --- operational gaps ------------------------------------------------------------

func TestFlowLogRoleTrustIsScoped(t *testing.T) {
	files := parseAll(t)
	doc := oneBlock(t, files, "modules/network", "data", "flow_logs_assume")
	src := doc.File.text(doc.Block.Range())
	for _, want := range []string{`"aws:SourceAccount"`, `"aws:SourceArn"`, ":vpc-flow-log/*"} {
		if !strings.Contains(src, want) {
			t.Errorf("flow-log role trust policy lacks %s (confused deputy)", want)
		}
	}
}

// Every log group is created by Terraform with a retention and a KMS key,
// including the ones RDS exports to (which RDS would create bare).
func TestLogGroupsHaveRetentionAndKMS(t *testing.T) {
	files := parseAll(t)
	groups := blocksOf(files, "resource", "aws_cloudwatch_log_group")
	for _, g := range groups {
		for _, attr := range []string{"retention_in_days", "kms_key_id"} {
			if _, ok := g.Block.Body.Attributes[attr]; !ok {
				t.Errorf("%s: aws_cloudwatch_log_group.%s has no %s", g.File.Path, g.Block.Labels[1], attr)
			}
		}
	}
	rds := localSrc(t, files, "modules/database", "log_groups")
	if !strings.Contains(rds, `"/aws/rds/instance/${var.name}-${pair[0]}/${pair[1]}"`) {
		t.Errorf("the RDS log groups must be /aws/rds/instance/<identifier>/<export>: %s", rds)
	}
	db := resourceBlock(t, files, "modules/database", "aws_db_instance", "shard")
	if attrSrc(t, db, "enabled_cloudwatch_logs_exports") != "local.log_exports" || !strings.Contains(attrSrc(t, db, "depends_on"), "aws_cloudwatch_log_group.rds") {
		t.Error("the shards must export exactly the pre-created groups and wait for them")
	}
}

func TestAccessLogsAndWAF(t *testing.T) {
	files := parseAll(t)
	lb := resourceBlock(t, files, "modules/edge", "aws_lb", "this")
	logs := nested(lb.Block, "access_logs")
	if len(logs) != 1 {
		t.Fatal("the ALB has no access_logs")
	}
	if v, ok := literalBool(logs[0].Body.Attributes["enabled"].Expr); !ok || !v {
		t.Error("access_logs.enabled must be true")
	}
	if len(blocksOf(filesIn(files, "modules/edge"), "resource", "aws_s3_bucket_server_side_encryption_configuration")) != 1 {
		t.Error("the access-log bucket must be encrypted")
	}
	waf := resourceBlock(t, files, "modules/edge", "aws_wafv2_web_acl", "this")
	src := waf.File.text(waf.Block.Range()) + localSrc(t, files, "modules/edge", "managed_rule_groups")
	for _, group := range []string{"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesAmazonIpReputationList"} {
		if !strings.Contains(src, `"`+group+`"`) {
			t.Errorf("the web ACL lacks the managed rule group %s", group)
		}
	}
	if strings.Count(src, "var.managed_rules_count_only ? [1] : []") < 2 {
		t.Error("every managed rule group must switch to count mode with managed_rules_count_only")
	}
	for env, wantCount := range map[string]bool{"staging": true, "production": false} {
		if v := moduleArg(t, files, env, "edge", "managed_rules_count_only"); v.True() != wantCount {
			t.Errorf("%s: managed rules count-only = %v, want %v", env, v.True(), wantCount)
		}
	}
	wl := resourceBlock(t, files, "modules/edge", "aws_wafv2_web_acl_logging_configuration", "this")
	if !strings.Contains(attrSrc(t, wl, "log_destination_configs"), "aws_cloudwatch_log_group.waf") {
		t.Error("WAF must log to the module's (KMS-encrypted) log group")
	}
}

// metricsAlarmed returns every CloudWatch metric name some alarm watches,
// directly or inside a metric query.
func metricsAlarmed(files []*tfFile) map[string]bool {
	out := map[string]bool{}
	for _, a := range blocksOf(files, "resource", "aws_cloudwatch_metric_alarm") {
		walkAttrs(a.Block.Body, nil, func(attr *hclsyntax.Attribute, _ []*hclsyntax.Block) {
			if attr.Name == "metric_name" {
				if s, ok := literalString(attr.Expr); ok {
					out[s] = true
				}
			}
		})
		if a.Block.Labels[1] == "login" {
			for _, m := range regexp.MustCompile(`metric\s+=\s+"(\w+)"`).FindAllStringSubmatch(string(a.File.Src), -1) {
				out[m[1]] = true
			}
		}
	}
	return out
}

func TestAlarmsCoverTheService(t *testing.T) {
	files := parseAll(t)
	alarmed := metricsAlarmed(files)
	for _, metric := range []string{
		"RunningTaskCount", "DesiredTaskCount", // ECS running below desired
		"HTTPCode_Target_5XX_Count", "RequestCount", "TargetResponseTime", // ALB
		"CPUUtilization", "FreeStorageSpace", "OldestReplicationSlotLag", // RDS
		"DatabaseMemoryUsagePercentage", "Evictions", // Redis
		"hello_guard_login_outcomes_total", "hello_guard_lockouts_total", // hello's own
	} {
		if !alarmed[metric] {
			t.Errorf("no alarm watches %s", metric)
		}
	}
	for _, a := range blocksOf(files, "resource", "aws_cloudwatch_metric_alarm") {
		if s := attrSrc(t, a, "alarm_actions"); s != "[var.alarm_topic_arn]" {
			t.Errorf("%s: alarm %s notifies %s, want [var.alarm_topic_arn]", a.File.Path, a.Block.Labels[1], s)
		}
	}
	topic := resourceBlock(t, files, "modules/alerting", "aws_sns_topic", "alarms")
	if _, ok := topic.Block.Body.Attributes["kms_master_key_id"]; !ok {
		t.Error("the alarm topic must be KMS-encrypted")
	}
	// hello's metrics reach CloudWatch: a sidecar scrapes the admin listener,
	// and the names alarmed are ones the service registers.
	serve := attrSrc(t, resourceBlock(t, files, "modules/service", "aws_ecs_task_definition", "this"), "container_definitions")
	if !strings.Contains(serve, "PROMETHEUS_CONFIG_CONTENT") || !strings.Contains(localSrc(t, files, "modules/service", "prometheus_config"), `targets = ["127.0.0.1:${local.admin_port}"]`) {
		t.Error("the service task must run a sidecar scraping /metrics on the admin port")
	}
	var goSrc strings.Builder
	if err := filepath.WalkDir("../../internal", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		goSrc.Write(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, metric := range []string{"hello_guard_login_outcomes_total", "hello_guard_lockouts_total", "hello_logins_total"} {
		if !strings.Contains(goSrc.String(), `"`+metric+`"`) {
			t.Errorf("%s is alarmed or exported but hello registers no such metric", metric)
		}
	}
}

func TestBackupPlanCopiesProductionAcrossRegions(t *testing.T) {
	files := parseAll(t)
	plan := resourceBlock(t, files, "modules/backup", "aws_backup_plan", "this")
	src := plan.File.text(plan.Block.Range())
	if !strings.Contains(src, `dynamic "copy_action"`) || !strings.Contains(src, "delete_after = var.retention_days") {
		t.Error("the backup plan must keep retention_days and copy when copy_region is set")
	}
	sched, _ := literalString(oneBlock(t, files, "modules/backup", "variable", "schedule").Block.Body.Attributes["default"].Expr)
	if !regexp.MustCompile(`^cron\(\d+ \d+ \* \* \? \*\)$`).MatchString(sched) {
		t.Errorf("schedule %q is not daily", sched)
	}
	if s := attrSrc(t, oneBlock(t, files, "environments/staging", "module", "backup"), "resource_arns"); !strings.Contains(s, "module.database.instance_arns") {
		t.Errorf("the backup selection must be the shards: %s", s)
	}
	copyOK := func(env string, region cty.Value) bool {
		return validationPasses(t, files, "backup_copy_region", map[string]cty.Value{
			"environment": cty.StringVal(env), "backup_copy_region": region, "aws_region": cty.StringVal("eu-central-1"),
		})
	}
	if copyOK("production", cty.NullVal(cty.String)) || !copyOK("production", cty.StringVal("eu-west-1")) || !copyOK("staging", cty.NullVal(cty.String)) || copyOK("staging", cty.StringVal("eu-central-1")) {
		t.Error("backup_copy_region must be required in production and differ from aws_region")
	}
	prod, stag := tfvars(t, "production"), tfvars(t, "staging")
	if prod["backup_retention_days"].AsBigFloat().Cmp(stag["backup_retention_days"].AsBigFloat()) <= 0 {
		t.Error("production must keep backups longer than staging")
	}
	if _, ok := prod["backup_copy_region"]; !ok {
		t.Error("production tfvars must set backup_copy_region")
	}
}

// Every kms:Decrypt a role may do goes through a named service.
func TestDecryptGrantsNameTheService(t *testing.T) {
	files := parseAll(t)
	n := 0
	for _, d := range rolePolicyDocuments(files) {
		for _, st := range nested(d.Block, "statement") {
			if !strings.Contains(d.File.text(st.Body.Attributes["actions"].Expr.Range()), "kms:Decrypt") {
				continue
			}
			n++
			ok := false
			for _, c := range nested(st, "condition") {
				v, _ := literalString(c.Body.Attributes["variable"].Expr)
				ok = ok || v == "kms:ViaService"
			}
			if !ok {
				t.Errorf("%s: %s: kms:Decrypt without a kms:ViaService condition", d.File.Path, d.Block.Labels[1])
			}
		}
	}
	if n < 2 {
		t.Errorf("found %d kms:Decrypt grants, want those of both execution roles", n)
	}
}

func TestInterfaceEndpointsHavePolicies(t *testing.T) {
	files := parseAll(t)
	ep := resourceBlock(t, files, "modules/network", "aws_vpc_endpoint", "interface")
	pol := attrSrc(t, ep, "policy")
	m := regexp.MustCompile(`^data\.aws_iam_policy_document\.(\w+)\[each\.key\]\.json$`).FindStringSubmatch(pol)
	if m == nil {
		t.Fatalf("interface endpoints need a policy per endpoint: policy = %s", pol)
	}
	doc := oneBlock(t, files, "modules/network", "data", m[1])
	if !strings.Contains(doc.File.text(doc.Block.Range()), `"aws:PrincipalAccount"`) {
		t.Error("the endpoint policy must admit only this account's principals")
	}
}

func TestRedisFinalSnapshotInProduction(t *testing.T) {
	files := parseAll(t)
	for env, want := range map[string]bool{"production": true, "staging": false} {
		if v := moduleArg(t, files, env, "cache", "final_snapshot_enabled"); v.True() != want {
			t.Errorf("%s: cache final_snapshot_enabled = %v, want %v", env, v.True(), want)
		}
	}
	rg := resourceBlock(t, files, "modules/cache", "aws_elasticache_replication_group", "this")
	if attrSrc(t, rg, "final_snapshot_identifier") != "local.snapshot_final" {
		t.Error("the replication group must take its final snapshot from final_snapshot_enabled")
	}
}

// The ALB checks liveness: a database reboot must not make ECS replace
// every task.
func TestLoadBalancerChecksLiveness(t *testing.T) {
	files := parseAll(t)
	tgs := blocksOf(files, "resource", "aws_lb_target_group")
	if len(tgs) == 0 {
		t.Fatal("no target group")
	}
	for _, tg := range tgs {
		for _, hc := range nested(tg.Block, "health_check") {
			if p, _ := literalString(hc.Body.Attributes["path"].Expr); p != "/healthz" {
				t.Errorf("%s: health check path %q, want /healthz", tg.File.Path, p)
			}
		}
	}
}

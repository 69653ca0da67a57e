package terraform_test

import (
	"bytes"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/hellosvc/hello/deploy/terraform/internal/tfdocs"
)

func TestCanonicalFormat(t *testing.T) {
	for _, p := range sourceFiles(t) {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := hclwrite.Format(src); !bytes.Equal(got, src) {
			t.Errorf("%s is not in canonical form: run terraform fmt", p)
		}
	}
}

func TestEveryFileParses(t *testing.T) {
	if n := len(parseAll(t)); n < 30 {
		t.Fatalf("parsed only %d files", n)
	}
}

func TestModuleStructure(t *testing.T) {
	want := []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"}
	dirs := moduleDirs(t)
	for _, m := range []string{"network", "service", "database", "cache", "edge"} {
		if !contains(dirs, "modules/"+m) {
			t.Errorf("module %s is missing", m)
		}
	}
	for _, dir := range dirs {
		for _, f := range want {
			if _, err := os.Stat(dir + "/" + f); err != nil {
				t.Errorf("%s: missing %s", dir, f)
			}
		}
	}
	envFiles := []string{"versions.tf", "providers.tf", "backend.tf", "main.tf", "variables.tf", "outputs.tf", "terraform.tfvars"}
	envs := environments(t)
	if !contains(envs, "staging") || !contains(envs, "production") {
		t.Fatalf("environments = %v, want staging and production", envs)
	}
	for _, env := range envs {
		for _, f := range envFiles {
			if _, err := os.Stat("environments/" + env + "/" + f); err != nil {
				t.Errorf("environments/%s: missing %s", env, f)
			}
		}
	}
}

func TestVersionsPinned(t *testing.T) {
	files := parseAll(t)
	dirs := append(moduleDirs(t), "environments/staging", "environments/production")
	for _, dir := range dirs {
		fs := filesIn(files, dir)
		tfs := blocksOf(fs, "terraform", "")
		var reqVersion string
		providers := map[string]string{}
		for _, tb := range tfs {
			if a, ok := tb.Block.Body.Attributes["required_version"]; ok {
				reqVersion, _ = literalString(a.Expr)
			}
			for _, rp := range tb.Block.Body.Blocks {
				if rp.Type != "required_providers" {
					continue
				}
				for name, a := range rp.Body.Attributes {
					v, ok := literal(a.Expr)
					if !ok || !v.Type().IsObjectType() || !v.Type().HasAttribute("version") {
						t.Errorf("%s: provider %s has no literal version", dir, name)
						continue
					}
					providers[name] = v.GetAttr("version").AsString()
				}
			}
		}
		if reqVersion != ">= 1.11" {
			t.Errorf("%s: required_version = %q, want \">= 1.11\"", dir, reqVersion)
		}
		// The aws floor is checked against the committed provider schema
		// (TestProviderFloorIsTheCheckedRelease).
		if providers["aws"] == "" {
			t.Errorf("%s: no aws provider constraint", dir)
		}
		usesRandom := false
		for _, f := range fs {
			if bytes.Contains(f.Src, []byte(`"random_`)) {
				usesRandom = true
			}
		}
		if usesRandom && !strings.HasPrefix(providers["random"], "~> 3.") {
			t.Errorf("%s: uses the random provider but pins it as %q", dir, providers["random"])
		}
	}
}

// The environments differ by values only: same modules from the same
// sources, one copy of the code (environments/common), apart from backend.tf and tfvars.
func TestEnvironmentsCallSameModules(t *testing.T) {
	files := parseAll(t)
	calls := map[string]map[string]string{}
	for _, env := range environments(t) {
		calls[env] = map[string]string{}
		for _, mb := range blocksOf(filesIn(files, "environments/"+env), "module", "") {
			src, _ := literalString(mb.Block.Body.Attributes["source"].Expr)
			calls[env][mb.Block.Labels[0]] = src
		}
	}
	st, pr := calls["staging"], calls["production"]
	if len(st) < 5 {
		t.Fatalf("staging calls only %d modules: %v", len(st), st)
	}
	for name, src := range st {
		if pr[name] != src {
			t.Errorf("module %q: staging source %q, production source %q", name, src, pr[name])
		}
	}
	for name := range pr {
		if _, ok := st[name]; !ok {
			t.Errorf("module %q is called only in production", name)
		}
	}
	// One copy of the code: each environment links to environments/common/.
	for _, env := range environments(t) {
		for _, f := range []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf", "providers.tf"} {
			target, err := os.Readlink("environments/" + env + "/" + f)
			if err != nil || target != "../common/"+f {
				t.Errorf("environments/%s/%s must be a symlink to ../common/%s (got %q, %v): environments differ by values (tfvars) and backend.tf, not code", env, f, f, target, err)
			}
		}
	}
}

var (
	credentialAttr = regexp.MustCompile(`(?i)^(access_key|secret_key|aws_access_key_id|aws_secret_access_key|session_token|token|password|master_password|secret_string|auth_token)$`)
	credentialName = regexp.MustCompile(`(?i)(access_key|secret_key|password|passwd|token|secret)`)
	awsKeyID       = regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)
	privateKey     = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)
	secretLooking  = regexp.MustCompile(`^[A-Za-z0-9+/=_\-]{32,}$`)
)

// No credential or password literal anywhere.
func TestNoCredentials(t *testing.T) {
	files := parseAll(t)
	for _, f := range files {
		if awsKeyID.Match(f.Src) || privateKey.Match(f.Src) {
			t.Errorf("%s: contains an AWS access key id or a private key", f.Path)
		}
		// Attributes that would carry a credential value must not exist at
		// all (write-only *_wo arguments are the only allowed path), and no
		// credential-named attribute may hold a string literal.
		walkAttrs(f.Body, nil, func(a *hclsyntax.Attribute, parents []*hclsyntax.Block) {
			if len(parents) > 0 && parents[0].Type == "variable" {
				return
			}
			if credentialAttr.MatchString(a.Name) {
				t.Errorf("%s:%d: attribute %q must not be set (credentials come from the AWS chain, secrets from write-only arguments or RDS)", f.Path, a.SrcRange.Start.Line, a.Name)
			}
			if s, ok := literalString(a.Expr); ok && credentialName.MatchString(a.Name) && !strings.HasSuffix(a.Name, "_version") && !strings.HasSuffix(a.Name, "_update_strategy") && s != "" {
				t.Errorf("%s:%d: %s = %q is a credential literal", f.Path, a.SrcRange.Start.Line, a.Name, s)
			}
		})
		for _, b := range f.Body.Blocks {
			if b.Type == "variable" && credentialName.MatchString(b.Labels[0]) && !referenceName(b.Labels[0], f.text(b.Range())) {
				t.Errorf("%s: variable %q looks like a credential input; secrets must not be Terraform inputs", f.Path, b.Labels[0])
			}
			if b.Type == "resource" && b.Labels[0] == "random_password" {
				t.Errorf("%s: resource random_password stores its result in state; use ephemeral \"random_password\"", f.Path)
			}
		}
		if strings.HasSuffix(f.Path, ".tfvars") {
			for name, a := range f.Body.Attributes {
				if credentialName.MatchString(name) && !referenceName(name, "") {
					t.Errorf("%s: %s looks like a secret; tfvars hold non-secret values only", f.Path, name)
				}
				v, ok := literal(a.Expr)
				if !ok {
					t.Errorf("%s: %s is not a literal", f.Path, name)
					continue
				}
				if v.Type() == cty.String && secretLooking.MatchString(v.AsString()) {
					t.Errorf("%s: %s = %q looks like a secret", f.Path, name, v.AsString())
				}
			}
		}
	}
	for _, pb := range blocksOf(files, "provider", "") {
		for name := range pb.Block.Body.Attributes {
			if name != "region" && name != "allowed_account_ids" {
				t.Errorf("%s: provider %s sets %q; only region (and default_tags) are allowed", pb.File.Path, pb.Block.Labels[0], name)
			}
		}
	}
}

// referenceName reports whether a credential-sounding name only refers to
// secrets (ARNs, rotation counters, retention) rather than holding one.
func referenceName(name, src string) bool {
	switch {
	case strings.HasSuffix(name, "_arn"), strings.HasSuffix(name, "_arns"),
		strings.HasSuffix(name, "_version"), strings.HasPrefix(name, "secret_recovery"):
		return true
	case name == "secrets", strings.HasSuffix(name, "_secrets"):
		return strings.Contains(src, "secret_arn")
	}
	return false
}

func TestVariablesTypedAndDescribed(t *testing.T) {
	n := 0
	for _, vb := range blocksOf(parseAll(t), "variable", "") {
		n++
		name := vb.Block.Labels[0]
		if _, ok := vb.Block.Body.Attributes["type"]; !ok {
			t.Errorf("%s: variable %q has no type", vb.File.Path, name)
		}
		a, ok := vb.Block.Body.Attributes["description"]
		if !ok {
			t.Errorf("%s: variable %q has no description", vb.File.Path, name)
			continue
		}
		if s, ok := literalString(a.Expr); !ok || len(strings.TrimSpace(s)) < 8 {
			t.Errorf("%s: variable %q has an empty or non-literal description", vb.File.Path, name)
		}
	}
	if n < 50 {
		t.Fatalf("found only %d variables", n)
	}
}

func TestOutputsDescribed(t *testing.T) {
	for _, ob := range blocksOf(parseAll(t), "output", "") {
		if _, ok := ob.Block.Body.Attributes["description"]; !ok {
			t.Errorf("%s: output %q has no description", ob.File.Path, ob.Block.Labels[0])
		}
	}
}

func TestNoPublicIPForTasks(t *testing.T) {
	files := parseAll(t)
	n := 0
	for _, f := range files {
		walkAttrs(f.Body, nil, func(a *hclsyntax.Attribute, parents []*hclsyntax.Block) {
			if a.Name != "assign_public_ip" {
				return
			}
			n++
			if v, ok := literalBool(a.Expr); !ok || v {
				t.Errorf("%s:%d: assign_public_ip must be the literal false", f.Path, a.SrcRange.Start.Line)
			}
		})
	}
	services := blocksOf(files, "resource", "aws_ecs_service")
	if len(services) == 0 {
		t.Fatal("no aws_ecs_service found")
	}
	for _, s := range services {
		found := false
		for _, b := range s.Block.Body.Blocks {
			if b.Type == "network_configuration" {
				if _, ok := b.Body.Attributes["assign_public_ip"]; ok {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: aws_ecs_service %s must set network_configuration.assign_public_ip = false", s.File.Path, s.Block.Labels[1])
		}
	}
	if n == 0 {
		t.Fatal("assign_public_ip never set")
	}
}

var openCIDR = regexp.MustCompile(`^(0\.0\.0\.0/0|::/0)$`)

// exprMentionsOpenCIDR reports whether an expression contains a literal
// 0.0.0.0/0 or ::/0 anywhere.
func exprMentionsOpenCIDR(e hclsyntax.Expression) bool {
	found := false
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		if lit, ok := n.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String && openCIDR.MatchString(lit.Val.AsString()) {
			found = true
		}
		if tmpl, ok := n.(*hclsyntax.TemplateExpr); ok && tmpl.IsStringLiteral() {
			if s, ok := literalString(tmpl); ok && openCIDR.MatchString(s) {
				found = true
			}
		}
		return nil
	})
	return found
}

func TestNoOpenIngressOutsideEdge(t *testing.T) {
	for _, f := range parseAll(t) {
		if strings.HasPrefix(f.Path, "modules/edge/") {
			continue
		}
		for _, b := range f.Body.Blocks {
			if b.Type != "resource" || len(b.Labels) < 2 {
				continue
			}
			switch b.Labels[0] {
			case "aws_vpc_security_group_ingress_rule":
				for _, name := range []string{"cidr_ipv4", "cidr_ipv6", "for_each"} {
					if a, ok := b.Body.Attributes[name]; ok && exprMentionsOpenCIDR(a.Expr) {
						t.Errorf("%s: %s.%s admits the whole internet", f.Path, b.Labels[0], b.Labels[1])
					}
				}
			case "aws_security_group_rule":
				if a, ok := b.Body.Attributes["type"]; ok {
					if s, _ := literalString(a.Expr); s == "ingress" {
						for _, name := range []string{"cidr_blocks", "ipv6_cidr_blocks"} {
							if a, ok := b.Body.Attributes[name]; ok && exprMentionsOpenCIDR(a.Expr) {
								t.Errorf("%s: %s.%s admits the whole internet", f.Path, b.Labels[0], b.Labels[1])
							}
						}
					}
				}
			case "aws_security_group", "aws_default_security_group":
				walkBlocks(b.Body, nil, func(ib *hclsyntax.Block, _ []*hclsyntax.Block) {
					if ib.Type != "ingress" {
						return
					}
					for _, name := range []string{"cidr_blocks", "ipv6_cidr_blocks"} {
						if a, ok := ib.Body.Attributes[name]; ok && exprMentionsOpenCIDR(a.Expr) {
							t.Errorf("%s: %s.%s has an ingress block open to the internet", f.Path, b.Labels[0], b.Labels[1])
						}
					}
				})
			}
		}
	}
	// Whatever is passed into the service's allowed CIDRs must not be open either.
	for _, f := range parseAll(t) {
		if !strings.HasPrefix(f.Path, "environments/") {
			continue
		}
		for _, mb := range blocksOf([]*tfFile{f}, "module", "service") {
			if a, ok := mb.Block.Body.Attributes["allowed_cidr_blocks"]; ok && exprMentionsOpenCIDR(a.Expr) {
				t.Errorf("%s: service allowed_cidr_blocks is open to the internet", f.Path)
			}
		}
	}
}

func requireLiteral(t *testing.T, fb fileBlock, attr string, want cty.Value) {
	t.Helper()
	a, ok := fb.Block.Body.Attributes[attr]
	if !ok {
		t.Errorf("%s: %s.%s does not set %s", fb.File.Path, fb.Block.Labels[0], fb.Block.Labels[1], attr)
		return
	}
	v, ok := literal(a.Expr)
	if !ok || !v.Type().Equals(want.Type()) || !v.RawEquals(want) {
		t.Errorf("%s: %s.%s: %s = %s, want %#v", fb.File.Path, fb.Block.Labels[0], fb.Block.Labels[1], attr, fb.File.text(a.Expr.Range()), want)
	}
}

func TestDatabaseHardening(t *testing.T) {
	files := parseAll(t)
	dbs := blocksOf(files, "resource", "aws_db_instance")
	if len(dbs) == 0 {
		t.Fatal("no aws_db_instance found")
	}
	for _, db := range dbs {
		requireLiteral(t, db, "storage_encrypted", cty.True)
		requireLiteral(t, db, "publicly_accessible", cty.False)
		requireLiteral(t, db, "manage_master_user_password", cty.True)
		requireLiteral(t, db, "skip_final_snapshot", cty.False)
		for _, attr := range []string{"kms_key_id", "deletion_protection", "multi_az", "backup_retention_period", "instance_class", "parameter_group_name"} {
			if _, ok := db.Block.Body.Attributes[attr]; !ok {
				t.Errorf("%s: aws_db_instance must set %s", db.File.Path, attr)
			}
		}
		if _, ok := db.Block.Body.Attributes["for_each"]; !ok {
			t.Errorf("%s: aws_db_instance must be one instance per shard (for_each)", db.File.Path)
		}
	}
	forceSSL := false
	for _, pg := range blocksOf(files, "resource", "aws_db_parameter_group") {
		for _, p := range pg.Block.Body.Blocks {
			if p.Type != "parameter" {
				continue
			}
			name, _ := literalString(p.Body.Attributes["name"].Expr)
			value, _ := literalString(p.Body.Attributes["value"].Expr)
			if name == "rds.force_ssl" && value == "1" {
				forceSSL = true
			}
		}
	}
	if !forceSSL {
		t.Error("no aws_db_parameter_group sets rds.force_ssl = 1")
	}
}

func TestCacheHardening(t *testing.T) {
	rgs := blocksOf(parseAll(t), "resource", "aws_elasticache_replication_group")
	if len(rgs) != 1 {
		t.Fatalf("want one aws_elasticache_replication_group, found %d", len(rgs))
	}
	rg := rgs[0]
	requireLiteral(t, rg, "at_rest_encryption_enabled", cty.True)
	requireLiteral(t, rg, "transit_encryption_enabled", cty.True)
	for _, attr := range []string{"auth_token_wo", "auth_token_wo_version", "automatic_failover_enabled", "kms_key_id"} {
		if _, ok := rg.Block.Body.Attributes[attr]; !ok {
			t.Errorf("%s: replication group must set %s", rg.File.Path, attr)
		}
	}
	if a, ok := rg.Block.Body.Attributes["automatic_failover_enabled"]; ok && !strings.Contains(rg.File.text(a.Expr.Range()), "failover") {
		t.Errorf("%s: automatic_failover_enabled should follow replica_count", rg.File.Path)
	}
}

// Secrets generated by Terraform go through ephemeral values and
// write-only arguments only.
func TestWriteOnlySecrets(t *testing.T) {
	files := parseAll(t)
	versions := blocksOf(files, "resource", "aws_secretsmanager_secret_version")
	if len(versions) < 2 {
		t.Fatalf("want the HELLO_SECRET and Redis token secret versions, found %d", len(versions))
	}
	for _, v := range versions {
		for _, attr := range []string{"secret_string_wo", "secret_string_wo_version"} {
			if _, ok := v.Block.Body.Attributes[attr]; !ok {
				t.Errorf("%s: %s must set %s", v.File.Path, v.Block.Labels[1], attr)
			}
		}
		for _, attr := range []string{"secret_string", "secret_binary"} {
			if _, ok := v.Block.Body.Attributes[attr]; ok {
				t.Errorf("%s: %s sets %s, which is stored in state", v.File.Path, v.Block.Labels[1], attr)
			}
		}
		if !strings.Contains(v.File.text(v.Block.Body.Attributes["secret_string_wo"].Expr.Range()), "ephemeral.random_password.") {
			t.Errorf("%s: %s must take its value from an ephemeral random_password", v.File.Path, v.Block.Labels[1])
		}
	}
	if len(blocksOf(files, "ephemeral", "random_password")) < 2 {
		t.Error("want ephemeral random_password blocks for HELLO_SECRET and the Redis token")
	}
}

func TestContainerInsightsEnabled(t *testing.T) {
	clusters := blocksOf(parseAll(t), "resource", "aws_ecs_cluster")
	if len(clusters) == 0 {
		t.Fatal("no aws_ecs_cluster found")
	}
	for _, c := range clusters {
		ok := false
		for _, s := range c.Block.Body.Blocks {
			if s.Type != "setting" {
				continue
			}
			name, _ := literalString(s.Body.Attributes["name"].Expr)
			value, _ := literalString(s.Body.Attributes["value"].Expr)
			if name == "containerInsights" && (value == "enabled" || value == "enhanced") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: aws_ecs_cluster %s must enable containerInsights", c.File.Path, c.Block.Labels[1])
		}
	}
}

func TestServiceDeploymentSafety(t *testing.T) {
	files := parseAll(t)
	for _, s := range blocksOf(files, "resource", "aws_ecs_service") {
		ok := false
		for _, b := range s.Block.Body.Blocks {
			if b.Type == "deployment_circuit_breaker" {
				e, _ := literalBool(b.Body.Attributes["enable"].Expr)
				r, _ := literalBool(b.Body.Attributes["rollback"].Expr)
				ok = e && r
			}
		}
		if !ok {
			t.Errorf("%s: aws_ecs_service needs deployment_circuit_breaker {enable = true, rollback = true}", s.File.Path)
		}
	}
	if len(blocksOf(files, "resource", "aws_appautoscaling_policy")) == 0 {
		t.Error("no target-tracking autoscaling policy")
	}
	// The service's task definition (the one aws_ecs_service runs).
	for _, td := range blocksOf(files, "resource", "aws_ecs_task_definition") {
		if td.Block.Labels[1] != "this" {
			continue
		}
		src := td.File.text(td.Block.Body.Attributes["container_definitions"].Expr.Range())
		for _, want := range []string{`"CMD", "/hello", "healthcheck"`, "stopTimeout", "awslogs"} {
			if !strings.Contains(src, want) {
				t.Errorf("%s: container definition lacks %s", td.File.Path, want)
			}
		}
	}
}

var secretEnvName = regexp.MustCompile(`^HELLO_(SECRET|[A-Z0-9_]*_PASSWORD)$`)

// ECS secrets only by ARN: a HELLO_SECRET / *_PASSWORD setting only ever
// appears as {secret_arn = ...}, never as a plain environment value, and
// the container definition passes secrets as valueFrom.
func TestSecretsOnlyByARN(t *testing.T) {
	files := parseAll(t)
	secretKeys := 0
	for _, f := range files {
		hclsyntax.VisitAll(f.Body, func(n hclsyntax.Node) hcl.Diagnostics {
			obj, ok := n.(*hclsyntax.ObjectConsExpr)
			if !ok {
				return nil
			}
			for _, item := range obj.Items {
				k, ok := objectKey(item)
				if !ok || !secretEnvName.MatchString(k) {
					continue
				}
				secretKeys++
				val, isObj := item.ValueExpr.(*hclsyntax.ObjectConsExpr)
				hasARN := false
				if isObj {
					for _, vi := range val.Items {
						if vk, _ := objectKey(vi); vk == "secret_arn" {
							hasARN = true
						}
					}
				}
				if !hasARN {
					t.Errorf("%s:%d: %s must be passed as {secret_arn = ...} for ECS secrets, not as a value", f.Path, item.KeyExpr.Range().Start.Line, k)
				}
			}
			return nil
		})
	}
	if secretKeys < 2 {
		t.Errorf("found %d secret settings; want at least HELLO_SECRET and HELLO_REDIS_PASSWORD", secretKeys)
	}

	// The environment given to the service never names a secret.
	for _, env := range environments(t) {
		for _, lb := range blocksOf(filesIn(files, "environments/"+env), "locals", "") {
			a, ok := lb.Block.Body.Attributes["hello_environment"]
			if !ok {
				continue
			}
			if strings.Contains(lb.File.text(a.Expr.Range()), "_PASSWORD") || strings.Contains(lb.File.text(a.Expr.Range()), "HELLO_SECRET") {
				t.Errorf("%s: hello_environment mentions a secret setting", lb.File.Path)
			}
		}
	}

	// The container definition uses valueFrom, and the service module's
	// environment variable rejects secret names.
	svc := filesIn(files, "modules/service")
	tds := blocksOf(svc, "resource", "aws_ecs_task_definition")
	if len(tds) != 2 {
		t.Fatalf("want the service and the admin task definitions in modules/service, found %d", len(tds))
	}
	for _, td := range tds {
		cd := td.File.text(td.Block.Body.Attributes["container_definitions"].Expr.Range())
		if !strings.Contains(cd, "secrets") || !strings.Contains(cd, "environment") {
			t.Errorf("%s: container definition must set both environment and secrets", td.Block.Labels[1])
		}
	}
	if !strings.Contains(string(tds[0].File.Src), "valueFrom") {
		t.Error("modules/service must build ECS secrets with valueFrom")
	}
	for _, name := range []string{"environment", "admin_environment"} {
		for _, vb := range blocksOf(svc, "variable", name) {
			src := vb.File.text(vb.Block.Range())
			if !strings.Contains(src, `"HELLO_SECRET"`) || !strings.Contains(src, `"_PASSWORD"`) {
				t.Errorf("variable %s of modules/service must reject HELLO_SECRET and *_PASSWORD", name)
			}
		}
	}
}

// The task execution roles may read exactly the hello secrets: no wildcard
// in any secretsmanager or kms statement of a policy attached to a role
// (key and endpoint policies are resource policies, where "*" means the
// key itself or "whatever the caller's own policy allows").
func TestExecutionRoleSecretsNoWildcard(t *testing.T) {
	files := parseAll(t)
	n := 0
	for _, d := range rolePolicyDocuments(files) {
		for _, st := range d.Block.Body.Blocks {
			if st.Type != "statement" {
				continue
			}
			actions := d.File.text(st.Body.Attributes["actions"].Expr.Range())
			if !strings.Contains(actions, "secretsmanager:") && !strings.Contains(actions, "kms:Decrypt") {
				continue
			}
			n++
			if strings.Contains(actions, "*") {
				t.Errorf("%s: %s: wildcard action %s", d.File.Path, d.Block.Labels[1], actions)
			}
			res, ok := st.Body.Attributes["resources"]
			if !ok || strings.Contains(d.File.text(res.Expr.Range()), "*") {
				t.Errorf("%s: %s: secret/KMS statement must list exact ARNs", d.File.Path, d.Block.Labels[1])
			}
		}
	}
	if n < 2 {
		t.Errorf("found %d secret/KMS statements, want the GetSecretValue and Decrypt statements of the execution role", n)
	}
}

func TestProductionValues(t *testing.T) {
	prod, stag := tfvars(t, "production"), tfvars(t, "staging")
	mustBool := func(vars map[string]cty.Value, env, name string, want bool) {
		v, ok := vars[name]
		if !ok || v.Type() != cty.Bool || v.True() != want {
			t.Errorf("%s tfvars: %s must be %v", env, name, want)
		}
	}
	mustBool(prod, "production", "deletion_protection", true)
	mustBool(prod, "production", "db_multi_az", true)
	if s, _ := prod["environment"], 0; s.AsString() != "production" {
		t.Errorf("production tfvars: environment = %s", s.AsString())
	}
	if stag["environment"].AsString() != "staging" {
		t.Errorf("staging tfvars: environment = %s", stag["environment"].AsString())
	}
	larger := func(name string) {
		p, okp := prod[name]
		s, oks := stag[name]
		if !okp || !oks {
			t.Errorf("%s must be set in both tfvars", name)
			return
		}
		pf, _ := p.AsBigFloat().Float64()
		sf, _ := s.AsBigFloat().Float64()
		if pf <= sf {
			t.Errorf("production %s (%v) must exceed staging (%v)", name, pf, sf)
		}
	}
	for _, name := range []string{"log_retention_days", "db_backup_retention_days", "task_min_count", "task_max_count", "task_cpu", "task_memory"} {
		larger(name)
	}
	if prod["db_instance_class"].AsString() == stag["db_instance_class"].AsString() {
		t.Error("production should use a larger db_instance_class than staging")
	}
}

// Every var.X / local.X / module.M.out reference resolves, every module call
// passes only declared inputs and all required ones.
func TestReferencesResolve(t *testing.T) {
	files := parseAll(t)
	dirs := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f.Path, ".tf") {
			dirs[f.Dir()] = true
		}
	}
	type modInfo struct {
		vars     map[string]bool // name -> required
		outputs  map[string]bool
		locals   map[string]bool
		modules  map[string]string // call name -> source dir
		fileList []*tfFile
	}
	info := map[string]*modInfo{}
	for dir := range dirs {
		mi := &modInfo{vars: map[string]bool{}, outputs: map[string]bool{}, locals: map[string]bool{}, modules: map[string]string{}}
		for _, f := range filesIn(files, dir) {
			if !strings.HasSuffix(f.Path, ".tf") {
				continue
			}
			mi.fileList = append(mi.fileList, f)
			for _, b := range f.Body.Blocks {
				switch b.Type {
				case "variable":
					_, hasDefault := b.Body.Attributes["default"]
					mi.vars[b.Labels[0]] = !hasDefault
				case "output":
					mi.outputs[b.Labels[0]] = true
				case "locals":
					for name := range b.Body.Attributes {
						mi.locals[name] = true
					}
				case "module":
					src, _ := literalString(b.Body.Attributes["source"].Expr)
					mi.modules[b.Labels[0]] = path.Clean(path.Join(dir, src))
				}
			}
		}
		info[dir] = mi
	}
	var names []string
	for dir := range info {
		names = append(names, dir)
	}
	sort.Strings(names)
	for _, dir := range names {
		mi := info[dir]
		for _, f := range mi.fileList {
			hclsyntax.VisitAll(f.Body, func(n hclsyntax.Node) hcl.Diagnostics {
				e, ok := n.(*hclsyntax.ScopeTraversalExpr)
				if !ok || len(e.Traversal) < 2 {
					return nil
				}
				attr, ok := e.Traversal[1].(hcl.TraverseAttr)
				if !ok {
					return nil
				}
				line := e.SrcRange.Start.Line
				switch e.Traversal.RootName() {
				case "var":
					if _, ok := mi.vars[attr.Name]; !ok {
						t.Errorf("%s:%d: var.%s is not declared", f.Path, line, attr.Name)
					}
				case "local":
					if !mi.locals[attr.Name] {
						t.Errorf("%s:%d: local.%s is not declared", f.Path, line, attr.Name)
					}
				case "module":
					target, ok := mi.modules[attr.Name]
					if !ok {
						t.Errorf("%s:%d: module.%s is not called", f.Path, line, attr.Name)
						return nil
					}
					for _, step := range e.Traversal[2:] {
						if out, ok := step.(hcl.TraverseAttr); ok {
							if info[target] != nil && !info[target].outputs[out.Name] {
								t.Errorf("%s:%d: module.%s has no output %q", f.Path, line, attr.Name, out.Name)
							}
							break
						}
					}
				}
				return nil
			})
			for _, b := range f.Body.Blocks {
				if b.Type != "module" {
					continue
				}
				target := info[mi.modules[b.Labels[0]]]
				if target == nil {
					t.Errorf("%s: module %s: source %s not found", f.Path, b.Labels[0], mi.modules[b.Labels[0]])
					continue
				}
				meta := map[string]bool{"source": true, "count": true, "for_each": true, "depends_on": true, "providers": true, "version": true}
				for name := range b.Body.Attributes {
					if _, ok := target.vars[name]; !ok && !meta[name] {
						t.Errorf("%s: module %s passes %q, which the module does not declare", f.Path, b.Labels[0], name)
					}
				}
				for name, required := range target.vars {
					if _, ok := b.Body.Attributes[name]; required && !ok {
						t.Errorf("%s: module %s does not pass required input %q", f.Path, b.Labels[0], name)
					}
				}
			}
		}
	}
	// tfvars only set declared root variables.
	for _, env := range environments(t) {
		root := info["environments/"+env]
		for name := range tfvars(t, env) {
			if _, ok := root.vars[name]; !ok {
				t.Errorf("environments/%s/terraform.tfvars sets undeclared variable %q", env, name)
			}
		}
		for name, required := range root.vars {
			if _, ok := tfvars(t, env)[name]; required && !ok {
				t.Errorf("environments/%s/terraform.tfvars lacks required variable %q", env, name)
			}
		}
	}
}

func TestModuleReadmesInSync(t *testing.T) {
	for _, dir := range moduleDirs(t) {
		_, changed, err := tfdocs.Sync(dir, *update)
		if err != nil {
			t.Fatal(err)
		}
		if changed && !*update {
			t.Errorf("%s/README.md is out of date: run `go test ./... -update` or `go run ./cmd/tfdocs`", dir)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// rolePolicyDocuments returns the aws_iam_policy_document data blocks whose
// JSON an aws_iam_role_policy attaches to a role (directly, through a map,
// or as a source document of one that is).
func rolePolicyDocuments(files []*tfFile) []fileBlock {
	attached := map[string]bool{}
	for _, rp := range blocksOf(files, "resource", "aws_iam_role_policy") {
		for _, e := range rp.Block.Body.Attributes {
			for _, tr := range e.Expr.Variables() {
				if tr.RootName() == "data" && len(tr) >= 3 {
					if typ, ok := tr[1].(hcl.TraverseAttr); ok && typ.Name == "aws_iam_policy_document" {
						attached[rp.File.Dir()+"/"+tr[2].(hcl.TraverseAttr).Name] = true
					}
				}
			}
		}
	}
	docs := blocksOf(files, "data", "aws_iam_policy_document")
	for changed := true; changed; { // follow source_policy_documents
		changed = false
		for _, d := range docs {
			if !attached[d.File.Dir()+"/"+d.Block.Labels[1]] {
				continue
			}
			if a, ok := d.Block.Body.Attributes["source_policy_documents"]; ok {
				for _, tr := range a.Expr.Variables() {
					if len(tr) >= 3 {
						key := d.File.Dir() + "/" + tr[2].(hcl.TraverseAttr).Name
						if !attached[key] {
							attached[key], changed = true, true
						}
					}
				}
			}
		}
	}
	var out []fileBlock
	for _, d := range docs {
		if attached[d.File.Dir()+"/"+d.Block.Labels[1]] {
			out = append(out, d)
		}
	}
	return out
}

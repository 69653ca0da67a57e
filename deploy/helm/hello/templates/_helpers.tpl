{{/*
Expand the name of the chart.
*/}}
{{- define "hello.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name (63 characters at most: some Kubernetes name
fields are limited to this by the DNS naming spec). A release name that already contains
the chart name is used as is.
*/}}
{{- define "hello.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The name of one part of the release: the full name, cut so that "-<suffix>" still fits in
63 characters (a 53-character release name is allowed by Helm). Argument: list of the
root context and the suffix. Every generated name other than the full name goes through
here, so none can exceed the limit.
*/}}
{{- define "hello.componentName" -}}
{{- $root := index . 0 }}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "hello.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{/*
Chart name and version as used by the chart label.
*/}}
{{- define "hello.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels: on every object and every pod.
*/}}
{{- define "hello.labels" -}}
helm.sh/chart: {{ include "hello.chart" . }}
{{ include "hello.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hello
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels shared by every pod of the release (server, migration and test pods).
*/}}
{{- define "hello.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hello.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the serving pods only: Deployment, Service, PDB, topology spread and the server
NetworkPolicy select on these, so a migration or test pod never receives traffic.
*/}}
{{- define "hello.serverSelectorLabels" -}}
{{ include "hello.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/*
Labels of the migration Job's pods (its NetworkPolicy selects on these).
*/}}
{{- define "hello.migrateSelectorLabels" -}}
{{ include "hello.selectorLabels" . }}
app.kubernetes.io/component: migrate
{{- end }}

{{/*
Labels of the `helm test` pod.
*/}}
{{- define "hello.testSelectorLabels" -}}
{{ include "hello.selectorLabels" . }}
app.kubernetes.io/component: test
{{- end }}

{{/*
Name of the ServiceAccount of the server pods.
*/}}
{{- define "hello.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hello.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the migration Job's ServiceAccount; empty: the namespace's default.
*/}}
{{- define "hello.migrateServiceAccountName" -}}
{{- $sa := .Values.migrations.serviceAccount }}
{{- if $sa.create }}
{{- default (include "hello.componentName" (list . "migrate")) $sa.name }}
{{- else }}
{{- $sa.name }}
{{- end }}
{{- end }}

{{/*
Image reference: [registry/]repository, then @digest or :tag (the tag defaults to the
appVersion).
*/}}
{{- define "hello.image" -}}
{{- $repo := .Values.image.repository }}
{{- with .Values.image.registry }}{{ $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}{{ end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Fixed listener ports of the service contract.
*/}}
{{- define "hello.httpPort" -}}8080{{- end }}
{{- define "hello.metricsPort" -}}9090{{- end }}

{{/*
Database mode: url | shards | shardsConfigMap | secret, "sqlite" (the trial) when none is
set, and "conflict" when more than one is.
*/}}
{{- define "hello.dbMode" -}}
{{- $modes := list }}
{{- if .Values.database.url }}{{ $modes = append $modes "url" }}{{ end }}
{{- if .Values.database.shards }}{{ $modes = append $modes "shards" }}{{ end }}
{{- if .Values.database.shardsConfigMap.name }}{{ $modes = append $modes "shardsConfigMap" }}{{ end }}
{{- if and .Values.existingSecret.name .Values.existingSecret.keys.db }}{{ $modes = append $modes "secret" }}{{ end }}
{{- if gt (len $modes) 1 }}conflict{{ else }}{{ first $modes | default "sqlite" }}{{ end }}
{{- end }}

{{/*
"true" when the brute-force guard shares its state through Redis.
*/}}
{{- define "hello.redis" -}}
{{- if or .Values.redis.url (and .Values.existingSecret.name .Values.existingSecret.keys.redisUrl) }}true{{ end }}
{{- end }}

{{/*
"true" when more than one server pod may run.
*/}}
{{- define "hello.multiReplica" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/*
"true" when HELLO_SECRET does not come from existingSecret: the chart generates it.
*/}}
{{- define "hello.generateSecret" -}}
{{- if not (and .Values.existingSecret.name .Values.existingSecret.keys.secret) }}true{{ end }}
{{- end }}

{{/*
The generated HELLO_SECRET: the value already in the cluster, so that every upgrade keeps
it (captchas in flight and device cookies stay valid), else 64 new random characters. An
offline render (helm template, GitOps tools) cannot look it up and makes a new one.
*/}}
{{- define "hello.generatedSecretValue" -}}
{{- $live := lookup "v1" "Secret" .Release.Namespace (include "hello.componentName" (list . "secret")) }}
{{- $old := dig "data" "HELLO_SECRET" "" $live }}
{{- if $old }}{{ $old }}{{ else }}{{ randAlphaNum 64 | b64enc }}{{ end }}
{{- end }}

{{/*
The server Deployment's replica count. With the HPA on, the count live in the cluster (which
the HPA owns) is rendered back, so that Helm's three-way merge never removes the field and
the Deployment never falls back to one pod; on a first install (or an offline render) it is
autoscaling.minReplicas.
*/}}
{{- define "hello.replicas" -}}
{{- if .Values.autoscaling.enabled }}
{{- $live := lookup "apps/v1" "Deployment" .Release.Namespace (include "hello.fullname" .) }}
{{- $n := int (dig "spec" "replicas" 0 $live) }}
{{- if gt $n 0 }}{{ $n }}{{ else }}{{ .Values.autoscaling.minReplicas }}{{ end }}
{{- else }}
{{- .Values.replicaCount }}
{{- end }}
{{- end }}

{{/*
Whole seconds (rounded up) of a duration written as a whole number and one unit, h, m, s
or ms (the form values.schema.json allows), e.g. 10s, 1m, 1500ms.
*/}}
{{- define "hello.durationSeconds" -}}
{{- $n := regexFind "^[0-9]+" . | atoi }}
{{- $unit := trimPrefix (toString $n) . }}
{{- $ms := dict "h" 3600000 "m" 60000 "s" 1000 "ms" 1 }}
{{- div (add (mul $n (get $ms $unit)) 999) 1000 }}
{{- end }}

{{/*
The HELLO_* variables the chart sets itself, whatever the values: config.extra,
existingSecret.keys.extra and extraEnv may not set them again (a second value for one
variable would silently win or lose). values.schema.json refuses the same names in
config.extra and existingSecret.keys.extra.
*/}}
{{- define "hello.chartVariables" -}}
HELLO_ENV HELLO_ADDR HELLO_ADMIN_ADDR HELLO_DB HELLO_SHARDS HELLO_DB_TIMEOUT HELLO_DB_MAX_CONNS HELLO_DB_IAM_AUTH HELLO_DB_APP_USER HELLO_SESSION_TTL HELLO_SHUTDOWN_TIMEOUT HELLO_LOG_LEVEL HELLO_HASH_CONCURRENCY HELLO_TRUSTED_PROXIES HELLO_CLIENT_IP_HEADER HELLO_SENDER_LIMIT HELLO_AUTH_SENDER_LIMIT HELLO_LOGIN_MAX_FAILURES HELLO_LOGIN_WINDOW HELLO_DEVICE_COOKIES HELLO_CAPTCHA HELLO_CAPTCHA_PROVIDER HELLO_REDIS_URL HELLO_REDIS_FAILURE HELLO_SECRET HELLO_DB_PASSWORD HELLO_REDIS_PASSWORD HELLO_ADMIN_TOKEN HELLO_CAPTCHA_SITE_KEY HELLO_CAPTCHA_SECRET_KEY
{{- end }}

{{/*
A password in a URL: user-info (user:password@) or a password= query parameter.
*/}}
{{- define "hello.urlHasPassword" -}}
{{- if or (regexMatch "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@]*:[^/@]*@" .) (regexMatch "[?&][pP][aA][sS][sS][wW][oO][rR][dD]=" .) }}true{{ end }}
{{- end }}

{{/*
Checks that a JSON schema cannot express; included by the Deployment, so `helm install`
and `helm template` stop with a clear message.
*/}}
{{- define "hello.validate" -}}
{{- $mode := include "hello.dbMode" . }}
{{- $multi := include "hello.multiReplica" . }}
{{- if not .Values.image.repository }}
{{- fail "hello: image.repository is required: the chart has no public image. For the ECR repository that deploy/terraform creates: --set image.registry=<account>.dkr.ecr.<region>.amazonaws.com --set image.repository=hello-<environment> (`terraform output -raw ecr_repository_url` prints both, joined by /)" }}
{{- end }}
{{- if eq $mode "conflict" }}
{{- fail "hello: more than one database mode is set: use at most one of database.url, database.shards, database.shardsConfigMap.name and existingSecret.keys.db (none: a SQLite trial)" }}
{{- end }}
{{- if include "hello.urlHasPassword" .Values.database.url }}
{{- fail "hello: database.url carries a password (user:password@ or ?password=): remove it and set existingSecret.keys.dbPassword (or put the whole DSN in the Secret and set existingSecret.keys.db)" }}
{{- end }}
{{- if include "hello.urlHasPassword" .Values.redis.url }}
{{- fail "hello: redis.url carries a password: remove it and set existingSecret.keys.redisPassword (or existingSecret.keys.redisUrl)" }}
{{- end }}
{{- if eq $mode "sqlite" }}
{{- if has .Values.config.env (list "staging" "production") }}
{{- fail (printf "hello: no database configured: config.env=%s needs PostgreSQL: set database.url (postgres://user@host:5432/db?sslmode=verify-full, password via existingSecret.keys.dbPassword), database.shards, database.shardsConfigMap.name or existingSecret.keys.db (the SQLite trial is for development)" .Values.config.env) }}
{{- end }}
{{- if $multi }}
{{- fail "hello: the SQLite trial runs one pod (one SQLite file on one volume): set replicaCount=1 and autoscaling.enabled=false, or configure PostgreSQL (database.url, database.shards, ...)" }}
{{- end }}
{{- end }}
{{- if eq .Values.config.env "production" }}
{{- if not (and .Values.existingSecret.name .Values.existingSecret.keys.secret) }}
{{- fail "hello: config.env=production needs HELLO_SECRET from your own Secret: set existingSecret.name (and existingSecret.keys.secret)" }}
{{- end }}
{{- if and $multi (not (include "hello.redis" .)) }}
{{- fail "hello: config.env=production with more than one pod needs Redis (redis.url or existingSecret.keys.redisUrl): without it every pod keeps its own brute-force counters and spent captchas" }}
{{- end }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.trustedProxies) }}
{{- fail "hello: ingress.enabled needs ingress.trustedProxies: the ingress controller's pod CIDR(s), so that the app reads the client address from ingress.clientIPHeader; without it every client shares the controller's address and its rate limits. Set ingress.trustedProxies=none to accept that explicitly" }}
{{- end }}
{{- if ne .Values.captcha.provider "none" }}
{{- $k := .Values.existingSecret.keys }}
{{- if not (and .Values.existingSecret.name $k.captchaSiteKey $k.captchaSecretKey) }}
{{- fail (printf "hello: captcha.provider=%s needs its site and secret keys from existingSecret: set existingSecret.name, existingSecret.keys.captchaSiteKey and existingSecret.keys.captchaSecretKey" .Values.captcha.provider) }}
{{- end }}
{{- end }}
{{- $shutdown := include "hello.durationSeconds" .Values.config.shutdownTimeout | int }}
{{- $preStop := int .Values.preStopSleepSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add $shutdown $preStop) }}
{{- fail (printf "hello: terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds (%d) + config.shutdownTimeout (%ds)" (int .Values.terminationGracePeriodSeconds) $preStop $shutdown) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "hello: autoscaling.minReplicas is greater than autoscaling.maxReplicas" }}
{{- end }}
{{- $chartVars := include "hello.chartVariables" . | splitList " " }}
{{- $seen := dict }}
{{- range $k, $v := .Values.config.extra }}
{{- if or (has $k $chartVars) (regexMatch "PASSWORD|SECRET|TOKEN" $k) }}
{{- fail (printf "hello: config.extra.%s is not allowed: the chart sets it from its own values, and secrets come from existingSecret" $k) }}
{{- end }}
{{- $_ := set $seen $k "config.extra" }}
{{- end }}
{{- range $k, $v := .Values.existingSecret.keys.shardPasswords }}
{{- $_ := set $seen $k "existingSecret.keys.shardPasswords" }}
{{- end }}
{{- range $k, $v := .Values.existingSecret.keys.extra }}
{{- if has $k $chartVars }}
{{- fail (printf "hello: existingSecret.keys.extra.%s is not allowed: the chart sets it from its own values" $k) }}
{{- end }}
{{- if hasKey $seen $k }}
{{- fail (printf "hello: existingSecret.keys.extra.%s is also set by %s" $k (get $seen $k)) }}
{{- end }}
{{- $_ := set $seen $k "existingSecret.keys.extra" }}
{{- end }}
{{- range .Values.extraEnv }}
{{- if has .name $chartVars }}
{{- fail (printf "hello: extraEnv %s is not allowed: the chart sets it from its own values" .name) }}
{{- end }}
{{- if hasKey $seen .name }}
{{- fail (printf "hello: extraEnv %s is also set by %s" .name (get $seen .name)) }}
{{- end }}
{{- $_ := set $seen .name "extraEnv" }}
{{- end }}
{{- end }}

{{/*
The non-secret HELLO_* settings as a YAML map of strings: the ConfigMap's data, and the
migration Job's environment (a pre-install hook runs before the ConfigMap exists).
*/}}
{{- define "hello.configData" -}}
{{- $mode := include "hello.dbMode" . }}
{{- $c := .Values.config }}
HELLO_ENV: {{ $c.env | quote }}
HELLO_ADDR: ":{{ include "hello.httpPort" . }}"
HELLO_ADMIN_ADDR: ":{{ include "hello.metricsPort" . }}"
{{- if eq $mode "url" }}
HELLO_DB: {{ .Values.database.url | quote }}
{{- else if eq $mode "shards" }}
HELLO_DB: "shards:"
HELLO_SHARDS: {{ toYaml .Values.database.shards | quote }}
{{- else if eq $mode "shardsConfigMap" }}
HELLO_DB: {{ printf "shards:/etc/hello/%s" .Values.database.shardsConfigMap.key | quote }}
{{- else if eq $mode "sqlite" }}
HELLO_DB: "sqlite:/data/hello.db"
{{- end }}
{{- if .Values.database.iamAuth }}
HELLO_DB_IAM_AUTH: "on"
{{- end }}
{{- with .Values.database.appUser }}
HELLO_DB_APP_USER: {{ . | quote }}
{{- end }}
HELLO_DB_TIMEOUT: {{ $c.dbTimeout | quote }}
{{- if gt (int $c.dbMaxConns) 0 }}
HELLO_DB_MAX_CONNS: {{ int $c.dbMaxConns | toString | quote }}
{{- end }}
HELLO_SESSION_TTL: {{ $c.sessionTTL | quote }}
HELLO_SHUTDOWN_TIMEOUT: {{ $c.shutdownTimeout | quote }}
HELLO_LOG_LEVEL: {{ $c.logLevel | quote }}
{{- if gt (int $c.hashConcurrency) 0 }}
HELLO_HASH_CONCURRENCY: {{ int $c.hashConcurrency | toString | quote }}
{{- end }}
{{- $proxies := .Values.ingress.trustedProxies }}
{{- if eq $proxies "none" }}
HELLO_CLIENT_IP_HEADER: "none"
{{- else if $proxies }}
HELLO_TRUSTED_PROXIES: {{ $proxies | quote }}
HELLO_CLIENT_IP_HEADER: {{ .Values.ingress.clientIPHeader | quote }}
{{- end }}
HELLO_SENDER_LIMIT: {{ $c.senderLimit | quote }}
HELLO_AUTH_SENDER_LIMIT: {{ $c.authSenderLimit | quote }}
HELLO_LOGIN_MAX_FAILURES: {{ int $c.loginMaxFailures | toString | quote }}
HELLO_LOGIN_WINDOW: {{ $c.loginWindow | quote }}
HELLO_DEVICE_COOKIES: {{ $c.deviceCookies | quote }}
HELLO_CAPTCHA: {{ $c.captcha | quote }}
HELLO_CAPTCHA_PROVIDER: {{ .Values.captcha.provider | quote }}
{{- if .Values.redis.url }}
HELLO_REDIS_URL: {{ .Values.redis.url | quote }}
{{- end }}
HELLO_REDIS_FAILURE: {{ .Values.redis.failure | quote }}
{{- range $k, $v := $c.extra }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end }}

{{/*
One secretKeyRef env entry. Arguments: list of env name, Secret name, key.
*/}}
{{- define "hello.secretEnvEntry" -}}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ index . 1 | quote }}
      key: {{ index . 2 | quote }}
{{- end }}

{{/*
Secret settings, each only by reference: HELLO_SECRET from existingSecret or from the
Secret the chart generated, everything else from existingSecret. Then extraEnv.
*/}}
{{- define "hello.env" -}}
{{- $s := .Values.existingSecret }}
{{- $mode := include "hello.dbMode" . }}
{{- if include "hello.generateSecret" . }}
{{ include "hello.secretEnvEntry" (list "HELLO_SECRET" (include "hello.componentName" (list . "secret")) "HELLO_SECRET") }}
{{- else }}
{{ include "hello.secretEnvEntry" (list "HELLO_SECRET" $s.name $s.keys.secret) }}
{{- end }}
{{- if $s.name }}
{{- if eq $mode "secret" }}
{{ include "hello.secretEnvEntry" (list "HELLO_DB" $s.name $s.keys.db) }}
{{- end }}
{{- if and (eq $mode "url") $s.keys.dbPassword (not .Values.database.iamAuth) }}
{{ include "hello.secretEnvEntry" (list "HELLO_DB_PASSWORD" $s.name $s.keys.dbPassword) }}
{{- end }}
{{- if $s.keys.redisUrl }}
{{ include "hello.secretEnvEntry" (list "HELLO_REDIS_URL" $s.name $s.keys.redisUrl) }}
{{- else if and .Values.redis.url $s.keys.redisPassword }}
{{ include "hello.secretEnvEntry" (list "HELLO_REDIS_PASSWORD" $s.name $s.keys.redisPassword) }}
{{- end }}
{{- with $s.keys.adminToken }}
{{ include "hello.secretEnvEntry" (list "HELLO_ADMIN_TOKEN" $s.name .) }}
{{- end }}
{{- if ne .Values.captcha.provider "none" }}
{{ include "hello.secretEnvEntry" (list "HELLO_CAPTCHA_SITE_KEY" $s.name $s.keys.captchaSiteKey) }}
{{ include "hello.secretEnvEntry" (list "HELLO_CAPTCHA_SECRET_KEY" $s.name $s.keys.captchaSecretKey) }}
{{- end }}
{{- range $env, $key := $s.keys.shardPasswords }}
{{ include "hello.secretEnvEntry" (list $env $s.name $key) }}
{{- end }}
{{- range $env, $key := $s.keys.extra }}
{{ include "hello.secretEnvEntry" (list $env $s.name $key) }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Volumes shared by the server and migration pods: /tmp, the shard map ConfigMap and
extraVolumes.
*/}}
{{- define "hello.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if eq (include "hello.dbMode" .) "shardsConfigMap" }}
- name: shards
  configMap:
    name: {{ .Values.database.shardsConfigMap.name }}
    items:
      - key: {{ .Values.database.shardsConfigMap.key }}
        path: {{ .Values.database.shardsConfigMap.key }}
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "hello.commonVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if eq (include "hello.dbMode" .) "shardsConfigMap" }}
- name: shards
  mountPath: /etc/hello
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Resources with empty entries left out (an empty CPU limit means none).
*/}}
{{- define "hello.resources" -}}
{{- $out := dict }}
{{- range $kind, $m := . }}
{{- $entries := dict }}
{{- range $k, $v := $m }}
{{- if $v }}{{ $_ := set $entries $k $v }}{{ end }}
{{- end }}
{{- if $entries }}{{ $_ := set $out $kind $entries }}{{ end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
Hook annotations. Arguments: list of the hook events, the weight and the delete policy.
*/}}
{{- define "hello.hookAnnotations" -}}
helm.sh/hook: {{ index . 0 }}
helm.sh/hook-weight: {{ index . 1 | quote }}
helm.sh/hook-delete-policy: {{ index . 2 }}
{{- end }}

{{/*
Egress rules shared by the NetworkPolicies: DNS (wherever the cluster resolver lives:
kube-dns, a node-local cache), and the database ports (limited to egressCIDRs when set).
*/}}
{{- define "hello.egressDNS" -}}
# DNS.
- ports:
    - port: {{ .Values.networkPolicy.dnsPort }}
      protocol: UDP
    - port: {{ .Values.networkPolicy.dnsPort }}
      protocol: TCP
{{- end }}

{{- define "hello.egressDatabase" -}}
# The database.
- ports:
    {{- range .Values.networkPolicy.databasePorts }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with .Values.networkPolicy.egressCIDRs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end }}

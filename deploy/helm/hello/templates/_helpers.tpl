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
Chart name and version as used by the chart label.
*/}}
{{- define "hello.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "hello.labels" -}}
helm.sh/chart: {{ include "hello.chart" . }}
{{ include "hello.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hello
{{- end }}

{{/*
Labels shared by every pod of the release (server pods and the migration Job's pod): the
NetworkPolicy selects on these.
*/}}
{{- define "hello.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hello.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the serving pods only: Deployment, Service, PDB and topology spread select on
these, so a running migration pod never receives traffic.
*/}}
{{- define "hello.serverSelectorLabels" -}}
{{ include "hello.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/*
Name of the ServiceAccount to use.
*/}}
{{- define "hello.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hello.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: a digest wins over a tag; the tag defaults to the appVersion.
*/}}
{{- define "hello.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Fixed listener ports of the service contract.
*/}}
{{- define "hello.httpPort" -}}8080{{- end }}
{{- define "hello.metricsPort" -}}9090{{- end }}

{{/*
Database mode: url | shards | shardsConfigMap | secret | sqlite, or "" when none is set and
"conflict" when more than one is.
*/}}
{{- define "hello.dbMode" -}}
{{- $modes := list }}
{{- if .Values.database.url }}{{ $modes = append $modes "url" }}{{ end }}
{{- if .Values.database.shards }}{{ $modes = append $modes "shards" }}{{ end }}
{{- if .Values.database.shardsConfigMap.name }}{{ $modes = append $modes "shardsConfigMap" }}{{ end }}
{{- if and .Values.existingSecret.name .Values.existingSecret.keys.db }}{{ $modes = append $modes "secret" }}{{ end }}
{{- if .Values.database.sqliteDev }}{{ $modes = append $modes "sqlite" }}{{ end }}
{{- if gt (len $modes) 1 }}conflict{{ else }}{{ first $modes | default "" }}{{ end }}
{{- end }}

{{/*
Whole seconds of a duration of the form 1h2m3s (values.schema.json restricts
config.shutdownTimeout to that form).
*/}}
{{- define "hello.durationSeconds" -}}
{{- $h := regexFind "[0-9]+h" . | trimSuffix "h" | default "0" | atoi }}
{{- $m := regexFind "[0-9]+m" . | trimSuffix "m" | default "0" | atoi }}
{{- $s := regexFind "[0-9]+s" . | trimSuffix "s" | default "0" | atoi }}
{{- add (mul $h 3600) (mul $m 60) $s }}
{{- end }}

{{/*
Checks that a JSON schema cannot express; included by the Deployment, so `helm install`
and `helm template` stop with a clear message.
*/}}
{{- define "hello.validate" -}}
{{- $mode := include "hello.dbMode" . }}
{{- if eq $mode "" }}
{{- fail "hello: no database configured: set database.url (postgres://user@host:5432/db?sslmode=require, password via existingSecret.keys.dbPassword), database.shards, database.shardsConfigMap.name or existingSecret.keys.db; database.sqliteDev=true is for development only" }}
{{- end }}
{{- if eq $mode "conflict" }}
{{- fail "hello: more than one database mode is set: use exactly one of database.url, database.shards, database.shardsConfigMap.name, existingSecret.keys.db and database.sqliteDev" }}
{{- end }}
{{- if regexMatch "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@]*:[^/@]*@" .Values.database.url }}
{{- fail "hello: database.url carries a password: remove it and set existingSecret.keys.dbPassword (or put the whole DSN in the Secret and set existingSecret.keys.db)" }}
{{- end }}
{{- if regexMatch "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@]*:[^/@]*@" .Values.redis.url }}
{{- fail "hello: redis.url carries a password: remove it and set existingSecret.keys.redisPassword (or existingSecret.keys.redisUrl)" }}
{{- end }}
{{- if eq $mode "sqlite" }}
{{- if eq .Values.config.env "production" }}
{{- fail "hello: database.sqliteDev is for development only and is refused when config.env is production" }}
{{- end }}
{{- if or (ne (int .Values.replicaCount) 1) .Values.autoscaling.enabled }}
{{- fail "hello: database.sqliteDev keeps one SQLite file per pod: set replicaCount=1 and autoscaling.enabled=false" }}
{{- end }}
{{- end }}
{{- if eq .Values.config.env "production" }}
{{- if not (and .Values.existingSecret.name .Values.existingSecret.keys.secret) }}
{{- fail "hello: config.env=production needs HELLO_SECRET: set existingSecret.name (and existingSecret.keys.secret)" }}
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
{{- range $k, $v := .Values.config.extra }}
{{- if or (regexMatch "PASSWORD|SECRET|TOKEN" $k) (has $k (list "HELLO_DB" "HELLO_REDIS_URL" "HELLO_SHARDS")) }}
{{- fail (printf "hello: config.extra.%s is not allowed there: secrets go through existingSecret, the database and Redis through database.* and redis.*" $k) }}
{{- end }}
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
{{- if .Values.ingress.trustedProxies }}
HELLO_TRUSTED_PROXIES: {{ .Values.ingress.trustedProxies | quote }}
{{- end }}
HELLO_SENDER_LIMIT: {{ $c.senderLimit | quote }}
HELLO_AUTH_SENDER_LIMIT: {{ $c.authSenderLimit | quote }}
HELLO_LOGIN_MAX_FAILURES: {{ int $c.loginMaxFailures | toString | quote }}
HELLO_LOGIN_WINDOW: {{ $c.loginWindow | quote }}
HELLO_DEVICE_COOKIES: {{ $c.deviceCookies | quote }}
HELLO_CAPTCHA: {{ $c.captcha | quote }}
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
Secret settings, each only by reference to existingSecret (never a literal value).
*/}}
{{- define "hello.secretEnv" -}}
{{- $s := .Values.existingSecret }}
{{- if $s.name }}
{{- $mode := include "hello.dbMode" . }}
{{- if $s.keys.secret }}
{{ include "hello.secretEnvEntry" (list "HELLO_SECRET" $s.name $s.keys.secret) }}
{{- end }}
{{- if eq $mode "secret" }}
{{ include "hello.secretEnvEntry" (list "HELLO_DB" $s.name $s.keys.db) }}
{{- end }}
{{- if and (eq $mode "url") $s.keys.dbPassword }}
{{ include "hello.secretEnvEntry" (list "HELLO_DB_PASSWORD" $s.name $s.keys.dbPassword) }}
{{- end }}
{{- if $s.keys.redisUrl }}
{{ include "hello.secretEnvEntry" (list "HELLO_REDIS_URL" $s.name $s.keys.redisUrl) }}
{{- else if and .Values.redis.url $s.keys.redisPassword }}
{{ include "hello.secretEnvEntry" (list "HELLO_REDIS_PASSWORD" $s.name $s.keys.redisPassword) }}
{{- end }}
{{- range $env, $key := $s.keys.shardPasswords }}
{{ include "hello.secretEnvEntry" (list $env $s.name $key) }}
{{- end }}
{{- range $env, $key := $s.keys.extra }}
{{ include "hello.secretEnvEntry" (list $env $s.name $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Pod-level security context: the image's nonroot user, RuntimeDefault seccomp.
*/}}
{{- define "hello.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Container-level security context: nothing to escalate to, nothing to write but the
mounted emptyDirs.
*/}}
{{- define "hello.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
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

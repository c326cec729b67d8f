{{/* Names ------------------------------------------------------------------------------ */}}

{{- define "streamhook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "streamhook.fullname" -}}
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

{{/* Cluster-scoped objects and Roles in other namespaces carry the release namespace too,
     so two releases of the same name in different namespaces do not collide. */}}
{{- define "streamhook.globalName" -}}
{{- printf "%s-%s" .Release.Namespace (include "streamhook.fullname" .) | trunc 253 | trimSuffix "-" }}
{{- end }}

{{- define "streamhook.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "streamhook.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "streamhook.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "streamhook.secretName" -}}
{{- default (include "streamhook.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "streamhook.tlsSecretName" -}}
{{- if .Values.tls.secretName }}
{{- .Values.tls.secretName }}
{{- else }}
{{- printf "%s-tls" (include "streamhook.fullname" .) }}
{{- end }}
{{- end }}

{{- define "streamhook.serviceCAConfigMapName" -}}
{{- printf "%s-service-ca" (include "streamhook.fullname" .) }}
{{- end }}

{{- define "streamhook.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Labels ----------------------------------------------------------------------------- */}}

{{- define "streamhook.labels" -}}
helm.sh/chart: {{ include "streamhook.chart" . }}
app.kubernetes.io/name: {{ include "streamhook.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: streamhook
{{- end }}

{{/* The server pods only: the helm test pod shares name/instance but not this component. */}}
{{- define "streamhook.selectorLabels" -}}
app.kubernetes.io/name: {{ include "streamhook.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{/* Paths inside the pod (fixed, so the rendered config is predictable) -------------------- */}}

{{- define "streamhook.configDir" -}}/etc/streamhook/config{{- end }}
{{- define "streamhook.secretsDir" -}}/etc/streamhook/secrets{{- end }}
{{- define "streamhook.tlsDir" -}}/etc/streamhook/tls{{- end }}

{{- define "streamhook.portName" -}}
{{- if .Values.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}

{{- define "streamhook.scheme" -}}
{{- if .Values.tls.enabled }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* Secret file keys ------------------------------------------------------------------- */}}

{{- define "streamhook.webhookSecretKey" -}}webhook.{{ . }}{{- end }}
{{- define "streamhook.registryPasswordKey" -}}registry.{{ . }}.password{{- end }}
{{- define "streamhook.registryDockerConfigKey" -}}registry.{{ . }}.dockerconfigjson{{- end }}
{{- define "streamhook.registryCAKey" -}}ca.{{ . }}.crt{{- end }}

{{/* Cross-field checks that a JSON schema cannot express with a clear message. */}}
{{- define "streamhook.validate" -}}
{{- $c := .Values.config }}
{{- $shutdown := float64 (dig "server" "shutdownTimeoutSeconds" 25 $c) }}
{{- if le (float64 .Values.terminationGracePeriodSeconds) $shutdown }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be longer than config.server.shutdownTimeoutSeconds (%v), or Kubernetes kills streamhook before it has drained" .Values.terminationGracePeriodSeconds $shutdown) }}
{{- end }}
{{- if and .Values.route.enabled (eq .Values.route.termination "reencrypt") (not .Values.tls.enabled) }}
{{- fail "route.termination=reencrypt needs tls.enabled=true (the router re-encrypts to the pod)" }}
{{- end }}
{{- if and .Values.route.enabled (eq .Values.route.termination "edge") .Values.tls.enabled }}
{{- fail "route.termination=edge sends plain HTTP to the pod, but tls.enabled=true makes it serve HTTPS: use route.termination=reencrypt" }}
{{- end }}
{{- if and .Values.route.enabled (eq .Values.route.termination "reencrypt") (eq .Values.route.insecureEdgeTerminationPolicy "Allow") }}
{{- fail "route.insecureEdgeTerminationPolicy=Allow works only with route.termination=edge; use Redirect or None" }}
{{- end }}
{{- if and .Values.tls.enabled (not .Values.tls.serviceServingCert) (not .Values.tls.secretName) }}
{{- fail "tls.enabled=true needs tls.serviceServingCert=true (OpenShift) or tls.secretName" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) }}
{{- fail "ingress.enabled=true needs ingress.host" }}
{{- end }}
{{- $names := list }}
{{- range $i, $r := $c.registries }}
{{- $names = append $names $r.name }}
{{- $auth := default dict $r.auth }}
{{- if $.Values.existingSecret }}
{{- if or $auth.password $auth.dockerConfigJson }}
{{- fail (printf "config.registries[%d] (%s): existingSecret is set, so remove the inline password/dockerConfigJson and put it in that Secret" $i $r.name) }}
{{- end }}
{{- else }}
{{- if and (eq (default "anonymous" $auth.type) "basic") (not $auth.password) }}
{{- fail (printf "config.registries[%d] (%s): auth.type=basic needs auth.password (or use existingSecret)" $i $r.name) }}
{{- end }}
{{- if and (eq (default "anonymous" $auth.type) "dockerConfigJson") (not $auth.dockerConfigJson) (not $auth.pullSecret) }}
{{- fail (printf "config.registries[%d] (%s): auth.type=dockerConfigJson needs auth.dockerConfigJson or auth.pullSecret (or use existingSecret)" $i $r.name) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $i, $w := $c.webhooks }}
{{- if not (has $w.registry $names) }}
{{- fail (printf "config.webhooks[%d] (%s): no registry named %q in config.registries" $i $w.name $w.registry) }}
{{- end }}
{{- if and $.Values.existingSecret $w.auth.secret }}
{{- fail (printf "config.webhooks[%d] (%s): existingSecret is set, so remove auth.secret and put it in that Secret under key webhook.%s" $i $w.name $w.name) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The streamhook config file -------------------------------------------------------- */}}
{{- define "streamhook.configYaml" -}}
{{- $c := .Values.config }}
{{- $configDir := include "streamhook.configDir" . }}
{{- $secretsDir := include "streamhook.secretsDir" . }}
{{- $cfg := dict "logLevel" $c.logLevel "logFormat" $c.logFormat }}
{{- $server := deepCopy (default dict $c.server) }}
{{- $_ := set $server "listen" (printf "0.0.0.0:%d" (int .Values.containerPort)) }}
{{- if .Values.tls.enabled }}
{{- $_ := set $server "tlsCertFile" (printf "%s/tls.crt" (include "streamhook.tlsDir" .)) }}
{{- $_ := set $server "tlsKeyFile" (printf "%s/tls.key" (include "streamhook.tlsDir" .)) }}
{{- end }}
{{- $_ := set $cfg "server" $server }}
{{- if $c.queue }}{{ $_ := set $cfg "queue" $c.queue }}{{ end }}
{{- if $c.retry }}{{ $_ := set $cfg "retry" $c.retry }}{{ end }}
{{- $_ := set $cfg "openshift" (deepCopy (default dict $c.openshift)) }}
{{- $registries := list }}
{{- range $r := $c.registries }}
{{- $reg := omit $r "auth" "ca" }}
{{- $auth := default dict $r.auth }}
{{- $type := default "anonymous" $auth.type }}
{{- if eq $type "basic" }}
{{- $_ := set $reg "auth" (dict "username" $auth.username "passwordFile" (printf "%s/%s" $secretsDir (include "streamhook.registryPasswordKey" $r.name))) }}
{{- else if eq $type "dockerConfigJson" }}
{{- $_ := set $reg "auth" (dict "dockerConfigJson" (printf "%s/%s" $secretsDir (include "streamhook.registryDockerConfigKey" $r.name))) }}
{{- end }}
{{- if $r.ca }}
{{- $_ := set $reg "caFile" (printf "%s/%s" $configDir (include "streamhook.registryCAKey" $r.name)) }}
{{- end }}
{{- $registries = append $registries $reg }}
{{- end }}
{{- $_ := set $cfg "registries" $registries }}
{{- $webhooks := list }}
{{- range $w := $c.webhooks }}
{{- $hook := omit $w "auth" }}
{{- $file := printf "%s/%s" $secretsDir (include "streamhook.webhookSecretKey" $w.name) }}
{{- $type := $w.auth.type }}
{{- if eq $type "none" }}
{{- $_ := set $hook "auth" (dict "none" true) }}
{{- else if eq $type "oidc" }}
{{- $_ := set $hook "auth" (dict "oidc" $w.auth.oidc) }}
{{- else if eq $type "basic" }}
{{- $_ := set $hook "auth" (dict "basic" (dict "username" $w.auth.username "passwordFile" $file)) }}
{{- else if eq $type "header" }}
{{- $_ := set $hook "auth" (dict "header" $w.auth.header "headerValueFile" $file) }}
{{- else }}
{{- $_ := set $hook "auth" (dict (printf "%sFile" $type) $file) }}
{{- end }}
{{- $webhooks = append $webhooks $hook }}
{{- end }}
{{- $_ := set $cfg "webhooks" $webhooks }}
{{- $_ := set $cfg "rules" (default list $c.rules) }}
{{- toYaml $cfg }}
{{- end }}

{{/* What the chart-made Secret is built from (user input only, so the checksum is stable even
     when secrets are generated). */}}
{{- define "streamhook.secretInputs" -}}
{{- $inputs := dict "existingSecret" .Values.existingSecret }}
{{- range $r := .Values.config.registries }}
{{- $_ := set $inputs (printf "registry.%s" $r.name) (default dict $r.auth) }}
{{- end }}
{{- range $w := .Values.config.webhooks }}
{{- $_ := set $inputs (printf "webhook.%s" $w.name) $w.auth }}
{{- end }}
{{- toJson $inputs }}
{{- end }}

{{/* Namespaces that get a Role: rbac.namespaces plus every literal rules[].namespace. */}}
{{- define "streamhook.roleNamespaces" -}}
{{- $namespaces := list }}
{{- range $ns := .Values.rbac.namespaces }}
{{- $namespaces = append $namespaces $ns }}
{{- end }}
{{- range $rule := .Values.config.rules }}
{{- if not (contains "{" $rule.namespace) }}
{{- $namespaces = append $namespaces $rule.namespace }}
{{- end }}
{{- end }}
{{- $namespaces | uniq | sortAlpha | toJson }}
{{- end }}

{{/* Rules for writing image streams in a namespace (Role or cluster-wide ClusterRole). */}}
{{- define "streamhook.imageStreamRules" -}}
- apiGroups: ["image.openshift.io"]
  resources: ["imagestreammappings"]
  verbs: ["create"]
- apiGroups: ["image.openshift.io"]
  resources: ["imagestreams"]
  verbs: {{ if dig "openshift" "createImageStreams" true .Values.config }}["get", "create"]{{ else }}["get"]{{ end }}
{{- if dig "openshift" "events" true .Values.config }}
- apiGroups: [""]  # core/v1 Events, as the writer posts them
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
{{- end }}

{{- define "streamhook.rbacSubject" -}}
- kind: ServiceAccount
  name: {{ include "streamhook.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{- define "streamhook.serviceHost" -}}
{{- printf "%s.%s.svc" (include "streamhook.fullname" .) .Release.Namespace }}
{{- end }}

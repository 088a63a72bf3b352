{{/* Names and labels. */}}
{{- define "ward.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ward.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ward.labels" -}}
{{ include "ward.selector" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The Secret mounted in /run/secrets/ward: the user's, or the chart's sync token. */}}
{{- define "ward.secretName" -}}
{{- if .Values.admin.existingSecret -}}
{{- .Values.admin.existingSecret -}}
{{- else if include "ward.clustered" . -}}
{{- include "ward.fullname" . }}-sync
{{- end -}}
{{- end -}}

{{/* Whether there are replicas: else one standalone server. */}}
{{- define "ward.clustered" -}}
{{- if gt (int .Values.replicas.count) 0 }}true{{ end -}}
{{- end -}}

{{/*
One pod's config: the filtering config of the values with the pod's own settings
(listeners, admin, data_dir, sync) added. `role` is primary or replica.
*/}}
{{- define "ward.nodeConfig" -}}
{{- $root := .root -}}
{{- $config := deepCopy (default (dict "upstreams" (dict "default" (dict "servers" (list "1.1.1.1" "1.0.0.1") "strategy" "parallel")) "policies" (dict "default" dict) "default_policy" "default") $root.Values.config) -}}
{{- $listen := list "0.0.0.0:5353" -}}
{{- if $root.Values.dns.ipv6 }}{{ $listen = append $listen "[::]:5353" }}{{ end -}}
{{- $dns := merge (dict "listen" $listen) (default dict $config.dns) -}}
{{- $_ := set $config "dns" $dns -}}
{{- $admin := dict "listen" "0.0.0.0:8080" "write_to" $root.Values.admin.writeTo -}}
{{- if and $root.Values.admin.existingSecret $root.Values.admin.tokenKey }}{{ $_ := set $admin "token_file" (printf "/run/secrets/ward/%s" $root.Values.admin.tokenKey) }}{{ end -}}
{{- if and $root.Values.admin.existingSecret $root.Values.admin.usersKey }}{{ $_ := set $admin "users_file" (printf "/run/secrets/ward/%s" $root.Values.admin.usersKey) }}{{ end -}}
{{- if $root.Values.admin.readOnly }}{{ $_ := set $admin "read_only" true }}{{ end -}}
{{- if $root.Values.admin.metricsAuth }}{{ $_ := set $admin "metrics_auth" true }}{{ end -}}
{{- $_ := set $config "admin" $admin -}}
{{- $_ := set $config "data_dir" "/var/lib/ward" -}}
{{- if and $root.Values.externalDns.enabled (eq .role "primary") -}}
{{- $hook := dict "listen" (printf "0.0.0.0:%d" (int $root.Values.externalDns.port)) -}}
{{- with $root.Values.externalDns.domains }}{{ $_ := set $hook "domains" . }}{{ end -}}
{{- with $root.Values.externalDns.pathPrefix }}{{ $_ := set $hook "path_prefix" . }}{{ end -}}
{{- $_ := set $config "external_dns" $hook -}}
{{- end -}}
{{- $fullname := include "ward.fullname" $root -}}
{{- if include "ward.clustered" $root -}}
{{- if eq .role "primary" -}}
{{- $_ := set $config "sync" (dict "role" "primary" "replicas" (list (printf "http://%s-replicas:8080" $fullname)) "token_file" "/run/secrets/ward/sync-token") -}}
{{- else -}}
{{- $_ := set $config "sync" (dict "role" "replica" "primary" (printf "http://%s-admin:8080" $fullname) "token_file" "/run/secrets/ward/sync-token" "interval" $root.Values.replicas.syncInterval) -}}
{{- end -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* A DNS pod of `role`: the StatefulSet's pod template. */}}
{{- define "ward.podTemplate" -}}
{{- $root := .root -}}
{{- $values := index $root.Values (ternary "primary" "replicas" (eq .role "primary")) -}}
metadata:
  labels:
    {{- include "ward.selector" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
    ward.dns/serves: "true"
  {{- with $values.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    fsGroupChangePolicy: OnRootMismatch
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: ward
      image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag }}"
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: ["serve", "--config", "/etc/ward/{{ .role }}.yaml"]
      ports:
        - { name: dns-udp, containerPort: 5353, protocol: UDP }
        - { name: dns-tcp, containerPort: 5353, protocol: TCP }
        - { name: admin, containerPort: 8080, protocol: TCP }
        {{- if and $root.Values.externalDns.enabled (eq .role "primary") }}
        - { name: external-dns, containerPort: {{ int $root.Values.externalDns.port }}, protocol: TCP }
        {{- end }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
      startupProbe:
        httpGet: { path: /livez, port: admin }
        periodSeconds: 1
        failureThreshold: 120
      livenessProbe:
        httpGet: { path: /livez, port: admin }
        periodSeconds: 10
        failureThreshold: 3
      readinessProbe:
        httpGet: { path: /readyz, port: admin }
        periodSeconds: 2
        failureThreshold: 2
      lifecycle:
        preStop:
          sleep:
            seconds: {{ $root.Values.preStopSeconds }}
      {{- with $values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        # A directory, never a subPath: a subPath mount never sees a ConfigMap update.
        - { name: config, mountPath: /etc/ward, readOnly: true }
        - { name: data, mountPath: /var/lib/ward }
        {{- if include "ward.secretName" $root }}
        - { name: secrets, mountPath: /run/secrets/ward, readOnly: true }
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "ward.fullname" $root }}-config
    {{- with include "ward.secretName" $root }}
    - name: secrets
      secret:
        secretName: {{ . }}
    {{- end }}
    {{- if not $values.persistence.enabled }}
    - name: data
      emptyDir: {}
    {{- end }}
  {{- if $root.Values.topologySpread.enabled }}
  topologySpreadConstraints:
    - maxSkew: {{ $root.Values.topologySpread.maxSkew }}
      topologyKey: {{ $root.Values.topologySpread.topologyKey }}
      whenUnsatisfiable: {{ $root.Values.topologySpread.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "ward.selector" $root | nindent 10 }}
          ward.dns/serves: "true"
  {{- end }}
  {{- with $root.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $root.Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

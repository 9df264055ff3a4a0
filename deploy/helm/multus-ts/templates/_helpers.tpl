{{- /*
Shared pieces of the templates. The chart adds no Helm bookkeeping labels (helm.sh/chart,
app.kubernetes.io/managed-by, instance): the objects carry the same names and labels as the
kustomize bases, so that either tool can take over an installation made by the other.
*/ -}}

{{- /* Fails early on a mode the templates do not know, instead of rendering no DaemonSet. */ -}}
{{- define "multus-ts.mode" -}}
{{- if not (has .Values.mode (list "thick" "thin" "moved-config")) -}}
{{- fail (printf "mode must be thick, thin or moved-config, not %q" (toString .Values.mode)) -}}
{{- end -}}
{{- .Values.mode -}}
{{- end -}}

{{- define "multus-ts.image" -}}
{{- printf "%s:%s" .Values.image.repository (toString (.Values.image.tag | default .Chart.AppVersion)) -}}
{{- end -}}

{{- /* thin and moved-config share deploy/thin's DaemonSet, so they share its component label. */ -}}
{{- define "multus-ts.component" -}}
{{- if eq (include "multus-ts.mode" .) "thick" -}}multus-daemon{{- else -}}multus-thin{{- end -}}
{{- end -}}

{{- define "multus-ts.labels" -}}
app.kubernetes.io/name: multus-ts
{{- end -}}

{{- define "multus-ts.webhookLabels" -}}
{{ include "multus-ts.labels" . }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "multus-ts.podLabels" -}}
{{ include "multus-ts.labels" . }}
app.kubernetes.io/component: {{ include "multus-ts.component" . }}
{{- end -}}

{{- /* kindIs "invalid" is the nil test: 0 is a legitimate grace period and must not fall back. */ -}}
{{- define "multus-ts.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- if eq (include "multus-ts.mode" .) "thick" -}}120{{- else -}}10{{- end -}}
{{- else -}}
{{- .Values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{- /*
Pod-level settings every mode shares: scheduling on every node, the identity, the grace period.
*/ -}}
{{- define "multus-ts.podScheduling" -}}
{{- with .Values.priorityClassName -}}
priorityClassName: {{ . }}
{{ end -}}
serviceAccountName: multus
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
terminationGracePeriodSeconds: {{ include "multus-ts.terminationGracePeriodSeconds" . }}
{{- end -}}

{{- /*
daemon-config.json as deploy/thick/daemon-config.yaml writes it, byte for byte: toPrettyJson would
sort the keys, so the known keys are written in the kustomize file's order and any others after
them, sorted. Values are single-line JSON (nested objects come out compact).
*/ -}}
{{- define "multus-ts.daemonConfigJson" -}}
{{- if hasKey .Values.daemonConfig "metricsPort" -}}
{{- fail "set metricsPort (top level; the probes use it too), not daemonConfig.metricsPort" -}}
{{- end -}}
{{- $config := merge (dict "metricsPort" .Values.metricsPort) .Values.daemonConfig -}}
{{- if .Values.legacyNetworks -}}{{- $_ := set $config "legacyNetworks" true -}}{{- end -}}
{{- $known := list "chrootDir" "socketDir" "cniConfigDir" "multusAutoconfigDir" "multusConfigFile" "confDir" "cniDir" "binDir" "metricsPort" "metricsAddress" "logLevel" "logToStderr" -}}
{{- $keys := list -}}
{{- range $known -}}
{{- if hasKey $config . -}}{{- $keys = append $keys . -}}{{- end -}}
{{- end -}}
{{- range (keys $config | sortAlpha) -}}
{{- if not (has . $known) -}}{{- $keys = append $keys . -}}{{- end -}}
{{- end -}}
{
{{- range $i, $key := $keys }}
  {{ toJson $key }}: {{ toJson (get $config $key) }}{{ if lt (add1 $i) (len $keys) }},{{ end }}
{{- end }}
}
{{- end -}}

#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for Multus-TS tests: etcd + kube-apiserver, with the
# NetworkAttachmentDefinition CRD and the multus RBAC from deploy/ applied.
#
#   cluster.sh up [--hold PID]
#                       start a control plane, or reuse a healthy one; waits for /readyz.
#                       Without --hold the control plane stays up until `down`. With --hold, PID
#                       (a test run) becomes a holder, and a control plane started that way stops
#                       when its last live holder calls `release` — so concurrent test runs can
#                       share one control plane and none stops it under another.
#   cluster.sh release PID
#                       drop PID's hold; stop the control plane if it was started with --hold and
#                       no live holder remains
#   cluster.sh down     stop the processes recorded in the state dir, then remove the state dir
#   cluster.sh status   print what runs; exit 0 if healthy, 3 if nothing runs, 1 if broken
#   cluster.sh build [component…]   build (or find cached) Kubernetes binaries (default kube-apiserver)
#   cluster.sh env      print shell exports for the admin kubeconfig
#   cluster.sh node-up|node-down|node-status
#                       a real node (containerd + runc + kubelet, node `localhost`) in its own
#                       network namespace, against this control plane: see node/node.sh.
#                       MULTUS_TS_NODE_NUMBER=2 (…9) adds node `node-2` beside it, on the same L2
#                       segment. `down` (and the last `release`) stop the nodes first.
#
# `up` prints KEY=VALUE lines on stdout (ADMIN_KUBECONFIG, MULTUS_KUBECONFIG, SERVER,
# MULTUS_TS_CLUSTER=started|reused); everything else goes to stderr.
#
# Environment (all optional):
#   MULTUS_TS_CLUSTER_DIR     state dir (default /tmp/multus-ts-cluster)
#   MULTUS_TS_CACHE_DIR       binary cache root (default $HOME/.cache/multus-ts); binaries live in
#                             <root>/k8s-<version>/bin, the version being the one k8s-build/go.mod pins
#   MULTUS_TS_K8S_COMPONENTS  components `up` makes sure are built (default: kube-apiserver)
#   MULTUS_TS_APISERVER_PORT  (default 16443)   MULTUS_TS_ETCD_PORT (default 12379; peer port is +1)
#   MULTUS_TS_ETCD            etcd binary (default: etcd on PATH, i.e. Debian's etcd-server)
#   MULTUS_TS_READY_TIMEOUT   seconds to wait for /readyz (default 120)
#
# Only processes this script started are ever signalled: their PIDs are recorded under
# $STATE/pids together with their start time, and both must still match before a kill.
set -euo pipefail
shopt -s inherit_errexit

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
build_module="$here/k8s-build"
state="${MULTUS_TS_CLUSTER_DIR:-/tmp/multus-ts-cluster}"
state="${state%/}"
cache_root="${MULTUS_TS_CACHE_DIR:-${HOME:-/root}/.cache/multus-ts}"
apiserver_port="${MULTUS_TS_APISERVER_PORT:-16443}"
etcd_port="${MULTUS_TS_ETCD_PORT:-12379}"
etcd_peer_port="$((etcd_port + 1))"
etcd_bin="${MULTUS_TS_ETCD:-$(command -v etcd || true)}"
ready_timeout="${MULTUS_TS_READY_TIMEOUT:-120}"
# The release is whatever the committed build module pins.
k8s_version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v1\./ { print $2; exit }' "$build_module/go.mod")"
bin_dir="$cache_root/k8s-$k8s_version/bin"
pki="$state/pki"
holders_dir="$state/holders"
admin_kubeconfig="$state/admin.kubeconfig"
multus_kubeconfig="$state/multus.kubeconfig"
server_url="https://127.0.0.1:$apiserver_port"
readonly here repo_root build_module state cache_root apiserver_port etcd_port etcd_peer_port etcd_bin \
  ready_timeout k8s_version bin_dir pki holders_dir admin_kubeconfig multus_kubeconfig server_url

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# build

# Builds the named components of $k8s_version into $bin_dir unless they are already there.
# All missing components go into one `go build`, so shared packages compile once.
build_components() {
  local missing=() c
  for c in "$@"; do
    [[ -x "$bin_dir/$c" ]] || missing+=("$c")
  done
  if ((${#missing[@]} == 0)); then
    log "using cached $* $k8s_version from $bin_dir"
    return 0
  fi
  command -v go >/dev/null || die "go not found on PATH; it is needed once to build ${missing[*]}"
  mkdir -p "$bin_dir"
  # One build per cache at a time; whoever waited finds the binaries built by the other.
  exec 8>"$bin_dir/.build.lock"
  if ! flock -n 8; then
    log "waiting for another build into $bin_dir"
    flock -w 3600 8 || die "could not lock $bin_dir/.build.lock within 60 min"
    missing=()
    for c in "$@"; do
      [[ -x "$bin_dir/$c" ]] || missing+=("$c")
    done
    ((${#missing[@]} > 0)) || { exec 8>&-; return 0; }
  fi
  local tmp pkgs=() total started
  tmp="$(mktemp -d "$bin_dir/.build.XXXXXX")"
  for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done

  # The version stamping upstream's hack/lib/version.sh does, so /version reports the release.
  local minor="${k8s_version#v1.}" ldflags="-s -w" pkg
  minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done

  started=$SECONDS
  log "building ${missing[*]} $k8s_version with $(go env GOVERSION) from the Go module proxy (module $build_module)"
  total="$(cd "$build_module" && CGO_ENABLED=0 go list -deps "${pkgs[@]}" | wc -l)"
  log "$total packages in the build (a cold build takes ~6 min on 2 cores); log: $bin_dir/build.log"
  # `go build -v` names each package it compiles: turn that into a progress line every 100.
  if ! (cd "$build_module" && CGO_ENABLED=0 go build -v -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}") \
      2>&1 | tee "$bin_dir/build.log" \
      | awk -v total="$total" '
          { n++ }
          n % 100 == 0 { printf "cluster.sh:   compiled %d of at most %d packages (%s)\n", n, total, $0 > "/dev/stderr"; fflush("/dev/stderr") }'
  then
    rm -rf "$tmp"
    tail -n 30 "$bin_dir/build.log" >&2
    die "go build failed (full log: $bin_dir/build.log)"
  fi
  for c in "${missing[@]}"; do
    [[ -x "$tmp/$c" ]] || { rm -rf "$tmp"; die "go build produced no $c (log: $bin_dir/build.log)"; }
    mv -f "$tmp/$c" "$bin_dir/$c"   # rename: an interrupted build never leaves a half binary
  done
  rm -rf "$tmp"
  exec 8>&-
  log "built ${missing[*]} in $((SECONDS - started)) s into $bin_dir"
}

# ---------------------------------------------------------------------------------------------
# processes we own

# PID bookkeeping: proc_start_time, owned_pid, start_process, stop_process.
# shellcheck disable=SC2034 # read by processes.sh
proc_dir="$state"
# shellcheck source=SCRIPTDIR/processes.sh
source "$here/processes.sh"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Serialises up/down of one state dir (tests may call `up` from several processes at once).
take_lock() {
  exec 9>"$state.lock"
  flock -n 9 && return 0
  log "waiting for another cluster.sh working on $state"
  flock -w 1800 9 || die "could not lock $state.lock within 30 min"
}

# ---------------------------------------------------------------------------------------------
# holders: test runs that use a control plane started for tests

add_holder() {
  local pid="$1" start
  [[ "$pid" =~ ^[0-9]+$ ]] || die "--hold needs a PID, got '$pid'"
  start="$(proc_start_time "$pid")" || die "--hold $pid: no such process"
  mkdir -p "$holders_dir"
  printf '%s %s\n' "$pid" "$start" >"$holders_dir/$pid"
}

# Prints the PIDs of holders that still run; forgets the others (a crashed test run).
live_holders() {
  local file pid start
  for file in "$holders_dir"/*; do
    [[ -e "$file" ]] || continue
    read -r pid start <"$file" || true
    if [[ "$(proc_start_time "$pid" 2>/dev/null)" == "$start" ]]; then
      printf '%s\n' "$pid"
    else
      rm -f "$file"
    fi
  done
}

stop_all() {
  # A node (node/node.sh) needs the API to drain its pods, so it goes first (the first node's
  # `down` stops the others before itself).
  if [[ -d "$state/node" ]]; then
    bash "$here/node/node.sh" down 8>&- 9>&- || log "node down failed; stopping the control plane anyway"
  fi
  stop_process kube-apiserver
  stop_process egress
  stop_process etcd
  rm -rf "$state"
}

# ---------------------------------------------------------------------------------------------
# certificates and kubeconfigs

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# issue_cert NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
issue_cert() {
  local name="$1" subject="$2" eku="$3" sans="${4:-}"
  new_key "$pki/$name.key"
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    echo "extendedKeyUsage = $eku"
    [[ -z "$sans" ]] || echo "subjectAltName = $sans"
  } >"$pki/$name.ext"
  openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

generate_pki() {
  mkdir -p "$pki"
  new_key "$pki/ca.key"
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=multus-ts-test-ca" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$pki/ca.crt" 2>/dev/null
  # Serving cert: loopback, plus the in-cluster names and the first service IP for later pods.
  issue_cert apiserver "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1, DNS:localhost, IP:10.96.0.1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local"
  issue_cert admin "/O=system:masters/CN=multus-ts-admin" clientAuth
  # For apiserver → kubelet calls (logs, exec) once a later issue runs a kubelet.
  issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  # Service-account token signing pair (ES256).
  new_key "$pki/sa.key"
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  chmod 600 "$pki"/*.key
}

b64() { base64 -w0 <"$1"; }

# write_kubeconfig FILE USER_NAME USER_YAML_LINES…
write_kubeconfig() {
  local file="$1" user="$2"; shift 2
  local tmp="$file.tmp"
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "clusters:"
    echo "  - name: multus-ts"
    echo "    cluster:"
    echo "      server: $server_url"
    echo "      certificate-authority-data: $(b64 "$pki/ca.crt")"
    echo "users:"
    echo "  - name: $user"
    echo "    user:"
    local line
    for line in "$@"; do echo "      $line"; done
    echo "contexts:"
    echo "  - name: $user@multus-ts"
    echo "    context:"
    echo "      cluster: multus-ts"
    echo "      user: $user"
    echo "current-context: $user@multus-ts"
  } >"$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$file"
}

# ---------------------------------------------------------------------------------------------
# control plane

admin_kubectl() { kubectl --kubeconfig "$admin_kubeconfig" --request-timeout=30s "$@"; }

apiserver_ready() {
  [[ -r "$pki/admin.crt" ]] || return 1
  curl -fsS --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "$server_url/readyz" >/dev/null 2>&1
}

healthy() {
  owned_pid etcd >/dev/null && owned_pid egress >/dev/null && owned_pid kube-apiserver >/dev/null && apiserver_ready
}

# kube-apiserver reaches kubelets (logs, exec, port-forward) and webhooks through an HTTP CONNECT
# proxy on a unix socket, as it reaches them through konnectivity on a cluster whose nodes it cannot
# dial: each node's namespace has its own 127.0.0.1, and only the name `localhost` resolves to the
# machine's. node.sh adds a route per node ($state/kubelets/<node name> -> that node's kubelet
# socket), so a second node can be `node-2` (node/forward.ts, "connect:").
start_egress() {
  local node_bin
  node_bin="$(find_node24 "$cache_root")"
  [[ -n "$node_bin" ]] || die "no Node >= 24 on PATH or in $cache_root/node-24.*: bash scripts/setup.sh installs it"
  mkdir -p "$state/kubelets"
  start_process egress "$node_bin" "$here/node/forward.ts" "connect:unix:$state/egress.sock=routes:$state/kubelets"
  local i
  for ((i = 0; i < 100; i++)); do
    grep -qx ready "$state/logs/egress.log" 2>/dev/null && break
    owned_pid egress >/dev/null || { tail -n 20 "$state/logs/egress.log" >&2; die "the egress proxy exited during start-up"; }
    sleep 0.1
  done
  grep -qx ready "$state/logs/egress.log" || die "the egress proxy did not start within 10 s (log: $state/logs/egress.log)"
  cat >"$state/egress-selector.yaml" <<EOF
apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
  - name: cluster
    connection:
      proxyProtocol: HTTPConnect
      transport:
        uds:
          udsName: $state/egress.sock
EOF
}

start_etcd() {
  [[ -n "$etcd_bin" && -x "$etcd_bin" ]] || die "etcd not found: apt-get install -y etcd-server (or set MULTUS_TS_ETCD)"
  mkdir -p "$state/etcd"
  chmod 700 "$state/etcd"
  start_process etcd "$etcd_bin" \
    --name=multus-ts \
    --data-dir="$state/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster="multus-ts=http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster-state=new \
    --logger=zap --log-outputs=stderr
  local i
  for ((i = 0; i < 300; i++)); do
    curl -fsS --max-time 2 "http://127.0.0.1:$etcd_port/health" 2>/dev/null | grep -q '"health":"true"' && return 0
    owned_pid etcd >/dev/null || break
    sleep 0.1
  done
  tail -n 40 "$state/logs/etcd.log" >&2
  owned_pid etcd >/dev/null || die "etcd exited during start-up (log: $state/logs/etcd.log)"
  die "etcd did not become healthy on 127.0.0.1:$etcd_port within 30 s (log: $state/logs/etcd.log)"
}

start_apiserver() {
  start_egress
  start_process kube-apiserver "$bin_dir/kube-apiserver" \
    --egress-selector-config-file="$state/egress-selector.yaml" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$apiserver_port" \
    --cert-dir="$state/apiserver" \
    --tls-cert-file="$pki/apiserver.crt" \
    --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --authorization-mode=Node,RBAC \
    --runtime-config=resource.k8s.io/v1=true \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --endpoint-reconciler-type=none \
    --allow-privileged=true \
    --profiling=false \
    --v=1
  # --endpoint-reconciler-type=none: the reconciler would publish 127.0.0.1 as the endpoint of
  # the `kubernetes` service, which endpoint validation rejects (loopback), logging an error a second.
  local deadline=$((SECONDS + ready_timeout))
  while ((SECONDS < deadline)); do
    apiserver_ready && break
    if ! owned_pid kube-apiserver >/dev/null; then
      tail -n 40 "$state/logs/kube-apiserver.log" >&2
      die "kube-apiserver exited during start-up (log: $state/logs/kube-apiserver.log)"
    fi
    sleep 0.25
  done
  # The brief's definition of ready: what kubectl sees.
  if ! admin_kubectl get --raw /readyz >/dev/null; then
    tail -n 40 "$state/logs/kube-apiserver.log" >&2
    admin_kubectl get --raw '/readyz?verbose' >&2 || true
    die "kube-apiserver not ready after $ready_timeout s (log: $state/logs/kube-apiserver.log)"
  fi
}

# What every test cluster has: the CRD and RBAC we ship, and a real token for the multus identity.
bootstrap() {
  admin_kubectl apply --server-side --field-manager=multus-ts-cluster -k "$repo_root/deploy/crd" >&2
  admin_kubectl apply --server-side --field-manager=multus-ts-cluster -k "$repo_root/deploy/rbac" >&2
  admin_kubectl wait --for=condition=Established --timeout=60s \
    crd/network-attachment-definitions.k8s.cni.cncf.io >&2
  refresh_multus_token
}

# The multus kubeconfig carries a ServiceAccount token from the TokenRequest API (exactly what a
# pod of the multus ServiceAccount gets projected), valid 48 h; `up` renews it when it stops working.
refresh_multus_token() {
  local token
  token="$(admin_kubectl -n kube-system create token multus --duration=48h)"
  write_kubeconfig "$multus_kubeconfig" multus "token: $token"
}

multus_token_works() {
  [[ -r "$multus_kubeconfig" ]] &&
    kubectl --kubeconfig "$multus_kubeconfig" --request-timeout=10s auth whoami -o jsonpath='{.status.userInfo.username}' 2>/dev/null |
      grep -qx 'system:serviceaccount:kube-system:multus'
}

print_result() {
  if [[ "$1" == started ]]; then
    log "kube-apiserver $k8s_version at $server_url (etcd 127.0.0.1:$etcd_port), state in $state"
    log "admin:  KUBECONFIG=$admin_kubeconfig"
    log "multus: KUBECONFIG=$multus_kubeconfig"
  else
    log "reusing the running kube-apiserver $k8s_version at $server_url (state in $state)"
  fi
  printf 'ADMIN_KUBECONFIG=%s\nMULTUS_KUBECONFIG=%s\nSERVER=%s\nMULTUS_TS_CLUSTER=%s\n' \
    "$admin_kubeconfig" "$multus_kubeconfig" "$server_url" "$1"
}

cmd_up() {
  local hold=""
  case "${1:-}" in
    "") ;;
    --hold) hold="${2:?--hold needs a PID}" ;;
    *) die "up: unknown argument $1" ;;
  esac
  # Turn SIGINT/SIGTERM into a normal exit so the EXIT trap below cleans up a half-done start.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  mkdir -p "$(dirname "$state")"
  take_lock
  if healthy; then
    multus_token_works || { log "renewing the multus token"; refresh_multus_token; }
    if [[ -n "$hold" ]]; then
      add_holder "$hold"
    elif [[ -e "$state/ephemeral" ]]; then
      rm -f "$state/ephemeral"
      log "a plain \`up\`: the control plane now stays up until \`cluster.sh down\`"
    fi
    print_result reused
    return 0
  fi
  local kept_holders=()
  if [[ -e "$state" ]]; then
    log "$state exists but the control plane is not healthy: stopping what is left and starting afresh"
    mapfile -t kept_holders < <(live_holders)
    stop_all
  fi
  local p
  for p in "$apiserver_port" "$etcd_port" "$etcd_peer_port"; do
    port_in_use "$p" && die "127.0.0.1:$p is taken by a process this script did not start; set MULTUS_TS_APISERVER_PORT / MULTUS_TS_ETCD_PORT"
  done
  read -r -a components <<<"${MULTUS_TS_K8S_COMPONENTS:-kube-apiserver}"
  build_components "${components[@]}"

  local started=$SECONDS
  mkdir -p "$state/pids" "$state/logs" "$state/apiserver"
  chmod 700 "$state"
  generate_pki
  write_kubeconfig "$admin_kubeconfig" admin \
    "client-certificate-data: $(b64 "$pki/admin.crt")" "client-key-data: $(b64 "$pki/admin.key")"
  # A failed start leaves nothing running, but keeps the logs for `status` and the reader.
  trap 'log "start-up failed; stopping what was started (logs stay in $state/logs)"; stop_process kube-apiserver; stop_process egress; stop_process etcd' EXIT
  start_etcd
  start_apiserver
  bootstrap
  trap - EXIT
  if [[ -n "$hold" ]]; then
    touch "$state/ephemeral"
    local holder
    for holder in "$hold" "${kept_holders[@]}"; do add_holder "$holder"; done
  fi
  log "control plane ready in $((SECONDS - started)) s"
  print_result started
}

cmd_down() {
  take_lock
  if [[ ! -d "$state" ]]; then
    log "nothing to stop: $state does not exist"
    return 0
  fi
  stop_all
  log "stopped; removed $state"
}

cmd_release() {
  local pid="${1:?release needs a PID}"
  take_lock
  [[ -d "$state" ]] || return 0
  rm -f "$holders_dir/$pid"
  local others
  others="$(live_holders | tr '\n' ' ')"
  if [[ ! -e "$state/ephemeral" ]]; then
    log "released by $pid; started by a plain \`up\`, so it stays up (\`cluster.sh down\` stops it)"
  elif [[ -n "$others" ]]; then
    log "released by $pid; still used by ${others% }"
  else
    stop_all
    log "released by its last holder ($pid): stopped; removed $state"
  fi
}

cmd_status() {
  if [[ ! -d "$state" ]]; then
    echo "not running (no $state)"
    return 3
  fi
  local name pid any=0
  printf '%-16s %s\n' "state dir:" "$state"
  printf '%-16s %s\n' "versions:" "kube-apiserver $k8s_version ($bin_dir), etcd $("$etcd_bin" --version 2>/dev/null | awk 'NR == 1 { print $3 }')"
  for name in etcd egress kube-apiserver; do
    if pid="$(owned_pid "$name")"; then
      any=1
      printf '%-16s running, pid %s, log %s\n' "$name:" "$pid" "$state/logs/$name.log"
    else
      printf '%-16s not running, log %s\n' "$name:" "$state/logs/$name.log"
    fi
  done
  printf '%-16s %s\n' "etcd url:" "http://127.0.0.1:$etcd_port (peer port $etcd_peer_port)"
  printf '%-16s %s\n' "apiserver url:" "$server_url"
  printf '%-16s %s\n' "admin:" "KUBECONFIG=$admin_kubeconfig"
  printf '%-16s %s\n' "multus:" "KUBECONFIG=$multus_kubeconfig"
  if [[ -e "$state/ephemeral" ]]; then
    printf '%-16s %s\n' "lifetime:" "until the last holder releases it; holders: $(live_holders | tr '\n' ' ')"
  else
    printf '%-16s %s\n' "lifetime:" "until cluster.sh down"
  fi
  if healthy; then
    printf '%-16s %s\n' "readyz:" "ok"
    return 0
  fi
  printf '%-16s %s\n' "readyz:" "failing"
  ((any)) && return 1
  return 3
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  release) shift; cmd_release "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  build)
    shift
    (($# > 0)) || set -- kube-apiserver
    build_components "$@"
    ;;
  env) printf 'export KUBECONFIG=%q\n' "$admin_kubeconfig" ;;
  # A real node (containerd + runc + kubelet in its own network namespace): node/node.sh.
  node-up) exec bash "$here/node/node.sh" up ;;
  node-down) exec bash "$here/node/node.sh" down ;;
  node-status) exec bash "$here/node/node.sh" status ;;
  *)
    echo "usage: $0 up [--hold PID]|release PID|down|status|build [component…]|env|node-up|node-down|node-status" >&2
    exit 2
    ;;
esac

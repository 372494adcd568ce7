#!/usr/bin/env bash
# A collector whose certificate is from an unknown CA, for another host
# name, or expired: nothing is sent, the state is error, the layer tls.
. "$(dirname "$0")/lib.sh"
lib_init
lib_make_certs "$T/certs"

refused() {	# CERT_NAME CA_FILE EXPECTED_TEXT
	local name=$1 ca=$2 text=$3 port h
	lib_start_collector "$name" --cert "$T/certs/$name.pem" --key "$T/certs/$name.key"
	port=$(lib_free_port)
	LIB_CLOUD=$(lib_cloud_toml "https://localhost:$COLLECTOR_PORT/v1/batches" |
		sed "s|^ca_file = .*|ca_file = \"$ca\"|") \
		lib_write_config "$T/$name.toml" "$port" </dev/null
	sed -i "s|$T/data|$T/data-$name|" "$T/$name.toml"
	lib_start_agent "$T/$name.toml"
	lib_wait_http "http://127.0.0.1:$port/health/live"
	layer_tls() {
		curl -sf "http://127.0.0.1:$port/health" | lib_json connection.last_error.layer |
			grep -qx tls
	}
	lib_wait_until 15 layer_tls
	h=$(curl -sf "http://127.0.0.1:$port/health")
	[ "$(echo "$h" | lib_json connection.state)" = error ] || fail "$name: state $h"
	echo "$h" | lib_json connection.last_error.message | grep -qi "$text" ||
		fail "$name: message lacks '$text': $(echo "$h" | lib_json connection.last_error.message)"
	[ "$(lib_collector_stat "$name" requests)" = 0 ] || fail "$name: a request got through"
	lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "$name: stop"
	kill "$COLLECTOR_PID"
}

refused server "$T/certs/other-ca.pem" "verif\|not trusted\|CA"
refused wronghost "$T/certs/ca.pem" "CN\|name\|host"
refused expired "$T/certs/ca.pem" "expired"
echo ok

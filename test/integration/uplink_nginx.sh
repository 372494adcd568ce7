#!/usr/bin/env bash
# TLS interop with a server that is not ours: nginx terminates HTTPS (with
# a session cache, so reconnects can resume) and proxies to the collector.
. "$(dirname "$0")/lib.sh"
lib_init
lib_make_certs "$T/certs"
lib_start_collector coll
nginx_port=$(lib_free_port)
mkdir -p "$T/nginx/logs"
cat >"$T/nginx/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
daemon off;
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log info;
events { worker_connections 64; }
http {
	access_log $T/nginx/logs/access.log;
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	fastcgi_temp_path $T/nginx/fastcgi;
	uwsgi_temp_path $T/nginx/uwsgi;
	scgi_temp_path $T/nginx/scgi;
	client_body_buffer_size 1m;
	server {
		listen 127.0.0.1:$nginx_port ssl;
		ssl_certificate $T/certs/server.pem;
		ssl_certificate_key $T/certs/server.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_session_cache shared:outpost:1m;
		keepalive_timeout 1s;
		location / {
			proxy_pass http://127.0.0.1:$COLLECTOR_PORT;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
CONF
nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" >"$T/nginx/stdout" 2>&1 &
lib_track $!
lib_wait_port "$nginx_port"

port=$(lib_free_port)
LIB_CLOUD=$(lib_cloud_toml "https://localhost:$nginx_port/v1/batches") \
	lib_write_config "$T/outpost.toml" "$port" </dev/null
lib_start_agent "$T/outpost.toml"
lib_wait_http "http://127.0.0.1:$port/health/live"
enough_ids() { [ "$(lib_collector_stat coll unique_ids)" -ge 150 ]; }
lib_wait_until 20 enough_ids
[ "$(curl -sf "http://127.0.0.1:$port/health" | lib_json connection.state)" = connected ] ||
	fail "not connected through nginx"
lib_stop_agent TERM; [ "$AGENT_RC" = 0 ] || fail "stop"
n200=$(grep -c '"POST /v1/batches HTTP/1.1" 200' "$T/nginx/logs/access.log")
[ "$n200" -ge 3 ] || fail "nginx logged $n200 successful uploads"
echo "ok: $n200 uploads through nginx"

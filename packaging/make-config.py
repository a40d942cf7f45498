#!/usr/bin/env python3
"""Writes packaging/config.toml: every setting of src/config (doc comment + default),
commented out, except data_dir (the package's state directory).

    packaging/make-config.py target/release/sylk-gateway > packaging/config.toml

tests/packaging.rs checks that the file names every setting print-config knows."""
import re, subprocess, sys

def fields(path, struct):
    text = open(path).read()
    body = text[text.index(f"pub struct {struct} {{"):]
    body = body[:body.index("\n}\n")]
    out, doc = [], []
    for line in body.splitlines()[1:]:
        s = line.strip()
        if s.startswith("///"):
            doc.append(s[3:].strip())
        elif s.startswith("pub "):
            name = re.match(r"pub (\w+):", s).group(1)
            out.append((name, " ".join(doc)))
            doc = []
        elif not s.startswith("#["):
            doc = []
    return out

EXAMPLES = {
    "tls_certificate": '"/etc/letsencrypt/live/sylk.example.com/fullchain.pem"',
    "tls_private_key": '"/etc/letsencrypt/live/sylk.example.com/privkey.pem"',
    "media_listen": '"192.0.2.10"',
    "ice_tcp_port": "10889",
    "public_url": '"https://sylk.example.com"',
    "admin_token": '"a-long-random-string-of-at-least-16-characters"',
    "filesharing_dir": '"/var/lib/sylk-gateway/filesharing"',
    "web_config": '"/etc/sylk-gateway/branding.json"',
    "file_transfer_dir": '"/var/lib/sylk-gateway/filetransfer"',
    "sip_proxy": '"sip:proxy.example.com:5060;transport=udp"',
    "push_url": '"http://127.0.0.1:8400/push"',
    "debug_panic_payload": '"deadbeef"',
    "room_max_bitrate": "2000000",
    "sip_tls_ca": '"/etc/sylk-gateway/sip-ca.pem"',
    "storage_url": '"postgres://sylk:secret@db.example.com:5432/sylk"',
}
CLUSTER_EXAMPLES = {
    "redis_url": '"redis://10.0.0.21:6379/"',
    "node_id": '"a"',
}

def wrap(text, prefix="# "):
    if not text:
        sys.exit("a setting without a doc comment")
    words, line, lines = text.split(), "", []
    for w in words:
        if len(line) + len(w) + 1 > 88 - len(prefix):
            lines.append(prefix + line)
            line = w
        else:
            line = f"{line} {w}".strip()
    if line:
        lines.append(prefix + line)
    return "\n".join(lines)

binary = sys.argv[1]
defaults = subprocess.run([binary, "print-config"], capture_output=True, text=True, check=True).stdout
top, limits = defaults.split("[limits]")
cluster_values = {}
if "[cluster]" in limits:
    limits, cluster = limits.split("[cluster]", 1)
    cluster = cluster.split("\n[")[0]
    cluster_values = dict(l.split(" = ", 1) for l in cluster.strip().splitlines() if " = " in l)
limits = limits.split("[rooms]")[0]
ROOM_EXAMPLES = {
    "access_policy": '"allow,deny"',
    "allow": '["example.com", "guest@other.org"]',
    "deny": '["intern@example.com"]',
    "video_disabled": "false",
    "invite_participants": '["ceo@example.com"]',
    "persistent": "false",
    "max_bitrate": "2000000",
    "video_codec": '"vp8"',
}
values = dict(l.split(" = ", 1) for l in top.strip().splitlines() if " = " in l)
limit_values = dict(l.split(" = ", 1) for l in limits.strip().splitlines() if " = " in l)

print("# sylk-gateway configuration (TOML). Every setting is shown with its default, commented")
print("# out; uncomment to change. Environment variables SYLK_<NAME> and command-line flags")
print("# --<name> override this file. Check it with: sylk-gateway check-config --config FILE")
print("# Reload the certificate and the log level with: systemctl reload sylk-gateway")
print()
ice_doc = None
rooms_doc = None
sdes_doc = None
cluster_doc = None
for name, doc in fields("src/config/mod.rs", "Config"):
    if name == "cluster":
        cluster_doc = doc
        continue
    if name == "limits":
        continue
    if name == "ice_servers":
        # Tables go last: a key after a table header would belong to the table.
        ice_doc = doc
        continue
    if name == "rooms":
        rooms_doc = doc
        continue
    if name == "sdes_srtp_domains":
        sdes_doc = doc
        continue
    print(wrap(doc))
    if name == "data_dir":
        print('data_dir = "/var/lib/sylk-gateway"\n')
        continue
    value = values.get(name, EXAMPLES.get(name))
    if value is None:
        sys.exit(f"no default or example for {name}")
    print(f"# {name} = {value}\n")
print(wrap(ice_doc))
print("# ice_servers = []")
print("# or, as tables (after every plain setting above, before [limits]):")
print("# [[ice_servers]]\n# urls = [\"stun:stun.example.com:3478\"]")
print("# [[ice_servers]]\n# urls = [\"turn:turn.example.com:3478?transport=udp\", \"turns:turn.example.com:5349\"]")
print("# secret = \"the TURN server's static-auth-secret\"\n# ttl = 86400\n")
print("# What one client, one source or one room may cost.")
print("[limits]")
for name, doc in fields("src/config/limits.rs", "Limits"):
    print(wrap(doc))
    print(f"# {name} = {limit_values[name]}\n")
print(wrap(rooms_doc))
print("# [rooms.\"board@conference.example.com\"]")
for name, doc in fields("src/config/rooms.rs", "RoomSettings"):
    print(wrap(doc))
    print(f"# {name} = {ROOM_EXAMPLES[name]}")
print()
print(wrap(sdes_doc))
print("# [sdes_srtp_domains]")
print("# \"secure.example.com\" = \"mandatory\"")
print()
print(wrap(cluster_doc))
print("# [cluster]")
for name, doc in fields("src/config/cluster.rs", "Cluster"):
    print(wrap(doc))
    print(f"# {name} = {cluster_values.get(name, CLUSTER_EXAMPLES.get(name))}")
print()

"""Container and build hardening, checked on the real containers: what
Docker says about them (capabilities, user, security options, limits, init,
logs, mounts, published address, network), what a process inside can see
and reach (the probe fixture tries the connections an attacker would), what
a repository's Dockerfile can reach while it builds (not workletd, not the
host's loopback-only services), the per-spec resource ceiling, the build
output and time limits, and the image disk budget."""

import os
import shutil
import socket
import time

import yaml

from wltest import (check, containers, docker, git, http_get, images, networks,
                    run)

SECRET_ENV = "s3cr3t-hardening-value"


def apply_as(wenv, wid, repo, user, **spec):
    doc = {"apiVersion": "worklet.dev/v1", "kind": "Worklet",
           "metadata": {"name": wid, "userId": user, "generation": 1},
           "spec": dict({"gitRepo": repo}, **spec)}
    wenv.write_manifest(wid, yaml.safe_dump(doc, sort_keys=False))


def inspect(wid):
    cs = [c for c in containers(wid) if c["State"] == "running"]
    check(len(cs) == 1, ("one running container", wid, cs))
    _, c = docker("GET", "/containers/%s/json" % cs[0]["Id"])
    return c


def container_ip(c):
    nets = c["NetworkSettings"]["Networks"]
    check(len(nets) == 1, ("one network", nets))
    name, net = list(nets.items())[0]
    return name, net["IPAddress"]


def probe(port, path):
    code, body = http_get(port, path, timeout=10)
    check(code == 200, ("probe", path, code, body))
    return body


def host_address():
    """The host's own non-loopback address (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
        except OSError:
            return None


def test_containers_are_hardened_and_isolated(env):
    repo = env.make_repo("probe")
    a, b, c = env.new_id("harda"), env.new_id("hardb"), env.new_id("hardc")
    apply_as(env, a, repo, "alice", env={"SECRET_FLAG": SECRET_ENV})
    apply_as(env, b, repo, "bob")
    apply_as(env, c, repo, "alice",
             resources={"memory": "256Mi", "cpus": 0.5, "pids": 100})
    sa = env.wait_phase(a, "running", 300)
    sb = env.wait_phase(b, "running", 300)
    sc = env.wait_phase(c, "running", 300)
    ca, cb, cc = inspect(a), inspect(b), inspect(c)

    # What Docker says.
    h = ca["HostConfig"]
    check(h["CapDrop"] == ["ALL"] and not h["CapAdd"], (h["CapDrop"], h["CapAdd"]))
    check(h["SecurityOpt"] == ["no-new-privileges"], h["SecurityOpt"])
    check(not h["Privileged"] and h["Init"] is True, (h["Privileged"], h["Init"]))
    check(h["PidsLimit"] == 256 and h["Memory"] == 512 << 20 and
          h["NanoCpus"] == 10 ** 9, (h["PidsLimit"], h["Memory"], h["NanoCpus"]))
    check(h["LogConfig"] == {"Type": "json-file",
                             "Config": {"max-file": "2", "max-size": "1m"}}, h["LogConfig"])
    check(not h.get("Binds") and not ca["Mounts"] and not h.get("Mounts"),
          ("mounts", h.get("Binds"), ca["Mounts"]))
    check(ca["Config"]["User"] == "10001:10001", ca["Config"]["User"])
    bindings = [b_ for v in h["PortBindings"].values() for b_ in v]
    check(bindings and all(x["HostIp"] == "127.0.0.1" for x in bindings), bindings)
    hc = cc["HostConfig"]
    check(hc["Memory"] == 256 << 20 and hc["NanoCpus"] == 5 * 10 ** 8 and
          hc["PidsLimit"] == 100, ("per-spec limits", hc["Memory"], hc["NanoCpus"],
                                   hc["PidsLimit"]))

    # The networks: one per user, inter-container traffic off.
    net_a, ip_a = container_ip(ca)
    net_b, ip_b = container_ip(cb)
    net_c, ip_c = container_ip(cc)
    check(net_a == net_c != net_b, ("one network per user", net_a, net_b, net_c))
    check(h["NetworkMode"] == net_a, h["NetworkMode"])
    ours = {n["Name"]: n for n in networks(env.instance)}
    check(set(ours) == {net_a, net_b}, (sorted(ours), net_a, net_b))
    for name in (net_a, net_b):
        _, n = docker("GET", "/networks/%s" % name)
        check(n["Driver"] == "bridge" and
              n["Options"].get("com.docker.network.bridge.enable_icc") == "false",
              n["Options"])

    # From inside: the process itself.
    who = yaml.safe_load(probe(sa["port"], "/whoami"))
    check(who["Uid"] == "10001" and who["Gid"] == "10001", who)
    check(who["CapEff"] == who["CapPrm"] == "0000000000000000", who)
    check(who["NoNewPrivs"] == "1" and who["Seccomp"] == "2", who)

    # From inside: what it can reach. The host reaches every container
    # (so each one listens), the probe reaches itself, and nothing else.
    for ip in (ip_a, ip_b, ip_c):
        code, body = http_get_ip(ip, 3000)
        check(code == 200 and body == "probe", ("host to container", ip, code, body))
    check(probe(sa["port"], "/connect?host=127.0.0.1&port=3000") == "open", "self")
    for ip in (ip_c, ip_b):
        got = probe(sa["port"], "/connect?host=%s&port=3000" % ip)
        check(got != "open", ("a worklet reached another", ip, got))
    gw = probe(sa["port"], "/gateway")
    check(gw, "no gateway")
    for port in (env.api_port, sb["port"], sc["port"]):
        got = probe(sa["port"], "/get?host=%s&port=%d" % (gw, port))
        check(not got.startswith("HTTP/"), ("reached the host's port", port, got))

    # No secret in the image: the environment is the container's only.
    check("SECRET_FLAG=" + SECRET_ENV in ca["Config"]["Env"], "env not passed")
    _, img = docker("GET", "/images/%s/json" % ca["Image"])
    _, hist = docker("GET", "/images/%s/history" % ca["Image"])
    baked = repr(img["Config"]) + repr(hist)
    for secret in (SECRET_ENV, env.settings["GITHUB_TOKEN"],
                   env.settings["ANTHROPIC_API_KEY"]):
        check(secret not in baked, "a secret is in the image")
    check(env.settings["GITHUB_TOKEN"] not in repr(ca["Config"]["Env"]), "token in env")

    # A user whose last worklet went loses the network.
    os.remove(env.spec_path(b))
    env.wait(b, lambda s: not containers(b), 30, "bob's container removed")
    deadline = time.time() + 40
    while time.time() < deadline and net_b in {n["Name"] for n in networks(env.instance)}:
        time.sleep(0.5)
    names = {n["Name"] for n in networks(env.instance)}
    check(net_b not in names and net_a in names, ("network collection", names))


test_containers_are_hardened_and_isolated.settings = {
    "GITHUB_TOKEN": "ghp_hardeningTestToken0123456789abcdef",
    "ANTHROPIC_API_KEY": "sk-ant-hardening-test-key-0123456789",
}


def http_get_ip(ip, port):
    import http.client
    try:
        conn = http.client.HTTPConnection(ip, port, timeout=5)
        conn.request("GET", "/")
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        conn.close()
        return resp.status, body
    except OSError as e:
        return 0, str(e)


def test_api_refuses_worklets_on_a_wildcard_listen(env):
    """WORKLET_LISTEN=0.0.0.0:PORT: the API answers the host, on loopback
    and on its own address, but not a worklet, by gateway or host address."""
    repo = env.make_repo("probe")
    a = env.new_id("guard")
    apply_as(env, a, repo, "alice")
    st = env.wait_phase(a, "running", 300)
    check(http_get(env.api_port, "/healthz")[0] == 200, "loopback refused")
    host = host_address()
    targets = [probe(st["port"], "/gateway")]
    if host:
        code, body = http_get_ip(host, env.api_port)
        check(code != 0, ("the host's own address refused", host, body))
        targets.append(host)
    for t in targets:
        got = probe(st["port"], "/get?host=%s&port=%d" % (t, env.api_port))
        check(not got.startswith("HTTP/"), ("a worklet reached the API", t, got))
    # The app itself is still served through the proxy.
    code, body, _ = env.api("GET", "/api/worklet/worklets/%s/proxy/" % a)
    check(code == 200 and body == "probe", (code, body))


test_api_refuses_worklets_on_a_wildcard_listen.settings = {
    "WORKLET_LISTEN": "0.0.0.0:0",  # replaced below, per Env
}


BUILD_PROBE = r'''
import socket, struct
def gateway():
    for line in open("/proc/net/route").read().splitlines()[1:]:
        f = line.split()
        if f[1] == "00000000":
            return socket.inet_ntoa(struct.pack("<L", int(f[2], 16)))
def http(host, port):
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
        data = s.recv(100)
        s.close()
        return "answered" if data.startswith(b"HTTP/") else "closed"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return "error:" + type(e).__name__
gw = gateway()
out = ["gw=" + gw]
for name, host, port in (("api_gw", gw, API), ("api_host", HOST, API),
                         ("loop", gw, LOOP), ("open", gw, OPEN)):
    out.append("%s=%s" % (name, http(host, port) if host else "skipped"))
print("BUILDPROBE " + " ".join(out))
'''


class TinyHTTP:
    """An HTTP server of the host's that answers everything with 200."""

    def __init__(self, bind):
        import http.server
        import threading

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass
        self.srv = http.server.ThreadingHTTPServer((bind, 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_build_reaches_neither_workletd_nor_loopback(env):
    """A repository's Dockerfile builds on the build network: from there
    workletd (listening on all addresses) closes the connection, a service
    of the host on 127.0.0.1 only is refused, and one on all addresses
    answers (so the probe could reach the host at all)."""
    loop, open_ = TinyHTTP("127.0.0.1"), TinyHTTP("0.0.0.0")
    try:
        host = host_address() or ""
        probe = BUILD_PROBE.replace("API", str(env.api_port)).replace(
            "HOST", repr(host)).replace("LOOP", str(loop.port)).replace("OPEN", str(open_.port))
        path = os.path.join(env.repos, "buildprobe")
        os.makedirs(path)
        with open(os.path.join(path, "probe.py"), "w") as f:
            f.write(probe)
        with open(os.path.join(path, "Dockerfile"), "w") as f:
            f.write("FROM %s\nCOPY probe.py /probe.py\nRUN python3 /probe.py\n"
                    "CMD [\"sh\", \"-c\", \"exec python3 -m http.server ${PORT:-3000}\"]\n"
                    % env.settings["WORKLET_IMAGE_PYTHON"])
        git(path, "init", "-q", "-b", "main")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial")
        wid = env.new_id("buildnet")
        apply_as(env, wid, path, "alice")
        env.wait(wid, lambda s: any(c["type"] == "Built" and c["status"] != "Unknown"
                                    for c in s.get("conditions", [])), 300, "the build")
        with open(os.path.join(env.state, "logs", wid, "build.log")) as f:
            log = f.read()
        lines = [line for line in log.splitlines() if line.startswith("BUILDPROBE ")]
        check(lines, log[-2000:])
        got = dict(kv.split("=", 1) for kv in lines[0].split()[1:])
        print("  " + lines[0], flush=True)
        _, net = docker("GET", "/networks/" + env.settings["WORKLET_BUILD_NETWORK"])
        gws = [c.get("Gateway") for c in net["IPAM"]["Config"]]
        check(got["gw"] in gws, ("the build did not run on the build network", got, gws))
        check(net["Options"].get("com.docker.network.bridge.enable_icc") == "false" and
              net["Options"].get("com.docker.network.bridge.name", "").startswith("wl-"),
              net["Options"])
        check(got["api_gw"] != "answered", ("the build reached workletd", got))
        check(got["api_host"] != "answered", ("the build reached workletd", got))
        check(got["loop"] != "answered", ("the build reached a loopback-only service", got))
        check(got["open"] == "answered", ("the probe cannot reach the host at all", got))
    finally:
        loop.stop()
        open_.stop()


test_build_reaches_neither_workletd_nor_loopback.settings = {
    "WORKLET_LISTEN": "0.0.0.0:0",  # replaced per Env, see main()
}


def test_resource_ceiling(env):
    repo = env.make_repo("probe")
    wid = env.new_id("ceil")
    path = "/api/worklet/worklets/" + wid
    doc = {"apiVersion": "worklet.dev/v1", "kind": "Worklet",
           "metadata": {"id": wid, "name": "ceil"},
           "spec": {"gitRepo": repo, "runState": "stopped",
                    "resources": {"memory": "2Gi"}}}
    for res, field in (({"memory": "2Gi"}, "spec.resources.memory"),
                       ({"cpus": 1.5}, "spec.resources.cpus"),
                       ({"pids": 513}, "spec.resources.pids")):
        doc["spec"]["resources"] = res
        got, err, _ = env.api("PUT", path, doc)
        check(got == 422 and err["error"]["code"] == "resources_exceed_ceiling" and
              err["error"]["message"].startswith(field) and "ceiling" in
              err["error"]["message"], (res, got, err))
        check(not os.path.exists(env.spec_path(wid)), "a refused spec was stored")
    doc["spec"]["resources"] = {"memory": "1Gi", "cpus": 1, "pids": 512}
    got, w, _ = env.api("PUT", path, doc)
    check(got == 201, (got, w))
    # A spec file above the ceiling is reported, not run.
    bad = env.new_id("ceilf")
    apply_as(env, bad, repo, "alice", resources={"memory": "3Gi"})
    st = env.wait(bad, lambda s: any(c["type"] == "SpecValid" and c["status"] == "False"
                                     for c in s.get("conditions", [])), 30, "SpecValid False")
    cond = [c for c in st["conditions"] if c["type"] == "SpecValid"][0]
    check("spec.resources.memory" in cond["message"] and "ceiling" in cond["message"], cond)
    check(not containers(bad), "a worklet above the ceiling got a container")


test_resource_ceiling.settings = {
    "WORKLET_LIMIT_MEMORY_MAX": "1Gi",
    "WORKLET_LIMIT_CPUS_MAX": "1",
    "WORKLET_LIMIT_PIDS_MAX": "512",
}


def dockerfile_repo(env, name, dockerfile):
    path = os.path.join(env.repos, name)
    os.makedirs(path)
    with open(os.path.join(path, "Dockerfile"), "w") as f:
        f.write(dockerfile)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def base_image(env):
    return env.settings.get("WORKLET_IMAGE_GO_RUNTIME", "worklet-local/debian:bookworm")


def tagged(imgs):
    """The images a build finished (its step images, kept as the cache of
    the next attempt, carry the worklet's labels too, untagged)."""
    return [i for i in imgs if [t for t in i.get("RepoTags") or [] if t != "<none>:<none>"]]


def test_build_output_limit(env):
    repo = dockerfile_repo(env, "flood", (
        "FROM %s\n"
        "RUN i=0; while [ $i -lt 40000 ]; do echo \"flood line $i\"; i=$((i+1)); done\n"
        "CMD [\"sleep\", \"1000\"]\n") % base_image(env))
    wid = env.new_id("flood")
    apply_as(env, wid, repo, "alice")
    st = env.wait(wid, lambda s: s.get("phase") == "error", 120, "build failure")
    built = [c for c in st["conditions"] if c["type"] == "Built"][0]
    check(built["status"] == "False" and "output exceeds 65536 bytes" in built["message"],
          built)
    check(not tagged(images(wid)), "an image was made")
    size = os.path.getsize(os.path.join(env.state, "logs", wid, "build.log"))
    check(size < 2 * 65536, ("the build log holds more than the limit", size))


test_build_output_limit.settings = {"WORKLET_BUILD_OUTPUT_MAX": "64Ki"}


def test_build_timeout_stops_the_build(env):
    marker = "sleep 47.25"
    repo = dockerfile_repo(env, "slow", (
        "FROM %s\nRUN %s\nCMD [\"sleep\", \"1000\"]\n") % (base_image(env), marker))
    wid = env.new_id("slow")
    apply_as(env, wid, repo, "alice")
    t0 = time.time()
    st = env.wait(wid, lambda s: s.get("phase") == "error", 60, "build failure")
    built = [c for c in st["conditions"] if c["type"] == "Built"][0]
    check("timed out" in built["message"], built)
    check(time.time() - t0 < 30, "the timeout did not stop the build in time")

    def sleeping():
        _, cs = docker("GET", "/containers/json")
        return [c for c in cs or [] if marker in c.get("Command", "")]
    deadline = time.time() + 15
    while sleeping() and time.time() < deadline:
        time.sleep(0.5)
    check(not sleeping(), "the build's container still runs")
    check(not tagged(images(wid)), "an image was made")


test_build_timeout_stops_the_build.settings = {"WORKLET_BUILD_TIMEOUT_SECONDS": "4"}


def test_image_disk_budget_evicts_least_recently_used(env):
    repo = env.make_repo("probe")
    wid = env.new_id("budget")
    apply_as(env, wid, repo, "alice")
    served = []
    st = env.wait_phase(wid, "running", 300)
    served.append(st["imageId"])
    for i in range(3):
        env.commit_file(repo, "version.txt", "v%d\n" % i)
        st = env.wait(wid, lambda s: s.get("phase") == "running" and
                      s.get("imageId") not in served and
                      s.get("servingCommit") == s.get("commit"), 120, "version %d" % i)
        served.append(st["imageId"])
    # Under the budget, earlier versions stay as a cache.
    time.sleep(3)
    have = {i["Id"]: i["Size"] for i in images(wid)}
    check(set(have) == set(served), ("all four versions kept", sorted(have), served))

    # A budget that fits the two newest: the two oldest go, oldest first.
    budget = have[served[3]] + have[served[2]] + have[served[1]] // 2
    env.stop()
    env.settings["WORKLET_IMAGE_DISK_BUDGET"] = str(budget)
    env.start()
    env.wait_api()
    # (Images used in the last 10 s are kept: a build's container may be
    # about to be created.)
    env.wait(wid, lambda s: {i["Id"] for i in images(wid)} == {served[2], served[3]}, 90,
             "least recently used images removed")
    st = env.wait_phase(wid, "running", 30)
    check(st["imageId"] == served[3], st)
    env.wait_body(st["port"], "probe", 30)
    check("image budget: removed" in env.logs(), "no log line")
    # Base images are never the budget's.
    _, base = docker("GET", "/images/%s/json" % env.settings["WORKLET_IMAGE_PYTHON"])
    check(base and base.get("Id"), "the base image went")


test_image_disk_budget_evicts_least_recently_used.settings = {
    "WORKLET_IMAGE_DISK_BUDGET": "1Ti"}


def main():
    # A wildcard listen needs a concrete port: take the one the harness chose.
    import wltest
    real_init = wltest.Env.__init__

    def init(self, name, **settings):
        real_init(self, name, **settings)
        if self.settings.get("WORKLET_LISTEN") == "0.0.0.0:0":
            self.settings["WORKLET_LISTEN"] = "0.0.0.0:%d" % self.api_port
    wltest.Env.__init__ = init
    run([test_containers_are_hardened_and_isolated,
         test_api_refuses_worklets_on_a_wildcard_listen,
         test_build_reaches_neither_workletd_nor_loopback,
         test_resource_ceiling,
         test_build_output_limit,
         test_build_timeout_stops_the_build,
         test_image_disk_budget_evicts_least_recently_used], "hardening")


if __name__ == "__main__":
    shutil.which("git") or exit("git is missing")
    main()

"""Real apps built with the package manager their authors use, at the exact
version the repository asks for (package.json's packageManager, else the one
that writes its lockfile's format), with a frozen lockfile: Vite + React from
create-vite, set up with pnpm (no packageManager field: the lockfile's format
decides), yarn 4 (its own .yarnrc.yml yarnPath release) and bun, all made by
tests/e2e/scaffold.py. A lockfile that does not match package.json fails the
install, and last_error quotes the package manager's own error."""

import json
import os
import re

from scaffold import scaffold
from wltest import check, git, http_get, run

# kind: (evidence that names the manager and version, the install step)
EXPECT = {
    "vite-react-pnpm": ("package manager pnpm 10.34.9 (pnpm-lock.yaml lockfileVersion 9: "
                        "written by pnpm 9 to 12)", "pnpm install --frozen-lockfile"),
    "vite-react-yarn-berry": ("package manager yarn 4.18.1 (package.json packageManager); "
                              ".yarnrc.yml yarnPath .yarn/releases/yarn-4.18.1.cjs is that "
                              "yarn, run with node", "yarn install --immutable"),
    "vite-react-bun": ("package manager bun 1.4.5 (bun.lock: written by bun 1.2 and later)",
                       "bun install --frozen-lockfile"),
}


def evidence(st):
    return "\n".join(st.get("detection", {}).get("evidence", []))


def test_real_apps_with_their_package_managers(env):
    apps = {}
    for kind in EXPECT:
        wid = env.new_id(kind.replace("vite-react-", "pm-"))
        env.apply(wid, scaffold(kind, os.path.join(env.repos, kind)))
        apps[kind] = wid
    for kind, wid in apps.items():
        want, install = EXPECT[kind]
        st = env.wait_phase(wid, "running", 900)
        ev = evidence(st)
        check(want in ev, (kind, ev))
        check(st["detection"]["framework"] == "vite", (kind, st["detection"]))
        with open(st["buildLogs"], errors="replace") as f:
            log = f.read()
        check(install in log and "@latest" not in log, (kind, log[-3000:]))
        # The built page, not a dev server, and every asset it references.
        code, html = http_get(st["port"], "/", timeout=10)
        check(code == 200 and "<title>" in html and '<div id="root">' in html,
              (kind, code, html[:1000]))
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
        check(any(a.endswith(".js") for a in assets) and
              any(a.endswith(".css") for a in assets), (kind, "assets", html[:1000]))
        for a in assets:
            code, body = http_get(st["port"], a, timeout=10)
            check(code == 200 and body, (kind, a, code))
            if a.endswith(".js"):
                check("Get started" in body, (kind, a, body[:300]))
        print("%s: %s" % (kind, next(l for l in ev.splitlines() if want in l)), flush=True)


# kind: the install step, what the package manager says of a stale lockfile
STALE = {
    "vite-react-pnpm": ("RUN pnpm install --frozen-lockfile", "ERR_PNPM_OUTDATED_LOCKFILE"),
    "vite-react-yarn-berry": ("RUN YARN_ENABLE_TELEMETRY=0 yarn install --immutable",
                              "YN0028"),
    "vite-react-bun": ("RUN bun install --frozen-lockfile", "lockfile had changes, but "
                       "lockfile is frozen"),
}


def test_failed_install_names_the_cause(env):
    # A dependency added to package.json without updating the lockfile:
    # each manager refuses a frozen install, and last_error says what it
    # said, not only that the step failed.
    ids = {}
    for kind in STALE:
        repo = scaffold(kind, os.path.join(env.repos, kind + "-stale"))
        path = os.path.join(repo, "package.json")
        with open(path) as f:
            pkg = json.load(f)
        pkg["dependencies"]["left-pad"] = "1.3.0"
        with open(path, "w") as f:
            json.dump(pkg, f, indent=2)
        git(repo, "commit", "-q", "-am", "add left-pad, forget the lockfile")
        ids[kind] = env.new_id(kind.replace("vite-react-", "stale-"))
        env.apply(ids[kind], repo)
    for kind, wid in ids.items():
        step, cause = STALE[kind]
        st = env.wait_phase(wid, "error", 600)
        msg = st["lastError"]
        print("%s last_error: %s" % (kind, msg), flush=True)
        check(re.match(r"build failed at step \d+/\d+ \(%s" % re.escape(step), msg), msg)
        check(cause in msg.split("\n", 1)[-1], (kind, msg))


if __name__ == "__main__":
    run([test_real_apps_with_their_package_managers, test_failed_install_names_the_cause],
        "package_managers")

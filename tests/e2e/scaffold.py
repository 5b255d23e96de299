"""Real apps for tests, made at test time by the frameworks' own scaffolders.

    from scaffold import scaffold
    repo = scaffold("vite-react", "/tmp/x/app")   # a git repository, branch main

The scaffolders (create-vite, create-next-app, create-react-app) and the
package managers (pnpm, yarn 4, bun) come from the npm registry at the
versions pinned in SCAFFOLDERS and TOOLS below; nothing here imitates an app
by hand. Our own changes are few and listed in the commit message of each
generated repository: next-app gets a route handler (app/api/hello), a
second page linked with next/link, and its Geist fonts from the `geist`
npm package instead of next/font/google (which downloads from Google Fonts
during `next build` and fails offline); vite-react-yarn-berry gets
`nodeLinker: node-modules` (under Plug'n'Play the template's TypeScript 7
cannot find its types) and yarn's own `yarn set version self` files.

Each generated repository has a lockfile (worklet builds with `npm ci` and
its equivalents when one exists) but no node_modules. Dependencies are
resolved as of RESOLVE_BEFORE (npm's --before, pnpm's minimumReleaseAge,
yarn's npmMinimalAgeGate, bun's --minimum-release-age), so a cold run next
month makes the same lockfile as one today.

The first call for a kind runs the scaffolder (2 to 16 s here, about 80 s
for create-react-app, which always installs everything) and keeps the result,
the committed repository without node_modules, in the cache directory
($WL_SCAFFOLD_CACHE, default /var/cache/worklet-test/scaffold), keyed by
kind, scaffolder version and a hash of everything else that shapes the tree
(arguments, tool versions, the date, our additions). Later calls copy it.
npm's download cache and the other managers' caches live there too.
Concurrent callers are safe: one builds a kind under an flock while the
others wait, and a finished tree appears by an atomic rename.

Command line:
    python3 tests/e2e/scaffold.py KIND DEST     one repository
    python3 tests/e2e/scaffold.py --warm [KIND...]   fill the cache (all kinds)
    python3 tests/e2e/scaffold.py --list        kinds, versions and cache keys

Python 3 standard library only. Needs node and npm on PATH (Node >= 20.19
for create-vite 9; the machine's Node 20 does). Building the apps needs
Node >= 20.19 too (vite 8, next 16: Node 18 fails); create-react-app's
builds on Node 18.
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

# Dependencies are resolved as the registry stood at this instant.
RESOLVE_BEFORE = "2026-12-07T00:00:00Z"

# kind -> how it is made. One table: change a version here and the cache key
# changes with it. (Checked with `npm view <package> version` on 2026-12-07.)
SCAFFOLDERS = {
    "vite-react": {"scaffolder": "create-vite@9.3.0",
                   "args": ["--template", "react-ts", "--no-interactive", "--no-immediate"],
                   "pm": "npm"},
    "vite-vue": {"scaffolder": "create-vite@9.3.0",
                 "args": ["--template", "vue-ts", "--no-interactive", "--no-immediate"],
                 "pm": "npm"},
    "next-app": {"scaffolder": "create-next-app@16.4.3",
                 "args": ["--ts", "--app", "--tailwind", "--eslint", "--no-src-dir",
                          "--import-alias", "@/*", "--use-npm", "--skip-install",
                          "--disable-git", "--no-react-compiler", "--no-agent-feedback",
                          "--yes"],
                 "pm": "npm",
                 # next/font/google downloads from fonts.googleapis.com during
                 # `next build`, which fails without internet: the same Geist
                 # fonts from the `geist` npm package (next/font/local) instead.
                 "extra_deps": ["geist@1.9.2"],
                 "additions": "next"},
    # The template exactly as it comes: its layout fetches the Geist fonts
    # from Google Fonts while `next build` runs (next/font/google).
    "next-default": {"scaffolder": "create-next-app@16.4.3",
                     "args": ["--ts", "--app", "--tailwind", "--eslint", "--no-src-dir",
                              "--import-alias", "@/*", "--use-npm", "--skip-install",
                              "--disable-git", "--no-react-compiler", "--no-agent-feedback",
                              "--yes"],
                     "pm": "npm"},
    "cra": {"scaffolder": "create-react-app@5.1.0",
            "args": ["--template", "cra-template@1.3.0", "--scripts-version", "5.0.1",
                     "--use-npm"],
            "pm": "npm"},
    "vite-react-pnpm": {"scaffolder": "create-vite@9.3.0",
                        "args": ["--template", "react-ts", "--no-interactive", "--no-immediate"],
                        "pm": "pnpm"},
    "vite-react-yarn-berry": {"scaffolder": "create-vite@9.3.0",
                              "args": ["--template", "react-ts", "--no-interactive",
                                       "--no-immediate"],
                              "pm": "yarn",
                              # Yarn's default, Plug'n'Play, fails `tsc -b`: the
                              # template's TypeScript 7 (the native compiler)
                              # cannot resolve packages through .pnp.cjs
                              # (TS2688 for vite/client and node).
                              "yarn_config": {"nodeLinker": "node-modules"}},
    "vite-react-bun": {"scaffolder": "create-vite@9.3.0",
                       "args": ["--template", "react-ts", "--no-interactive", "--no-immediate"],
                       "pm": "bun"},
}

# Package managers other than npm, installed from the npm registry into the
# cache (corepack cannot fetch them here).
TOOLS = {
    # pnpm 12's bin is a shebang-less sh placeholder for a native binary
    # (@pnpm/exe.linux-x64) that its install script would link; the
    # documented Node entry finds that binary without the script.
    "pnpm": {"package": "pnpm@12.26.0", "bin": "node_modules/pnpm/bin/pnpm.mjs",
             "via": "node"},
    "yarn": {"package": "@yarnpkg/cli-dist@4.18.1", "bin": "node_modules/.bin/yarn"},
    "bun": {"package": "@oven/bun-linux-x64@1.4.5",
            "bin": "node_modules/@oven/bun-linux-x64/bin/bun"},
}

# How a person would build and serve each kind, and what its first page
# shows: for the tests that use these apps.
USAGE = {
    "vite-react": {"install": "npm ci", "build": "npm run build", "out": "dist",
                   "expect_text": ["Get started", "Documentation"]},
    "vite-vue": {"install": "npm ci", "build": "npm run build", "out": "dist",
                 "expect_text": ["Get started", "Documentation"]},
    "next-app": {"install": "npm ci", "build": "npm run build", "start": "npm start",
                 "expect_text": ["To get started, edit the", "About this app"],
                 "navigate": {"click_text": "About this app",
                              "expect_text": "This page was reached with next/link"},
                 "fetch": {"path": "/api/hello", "expect_json_key": "message"}},
    "cra": {"install": "npm ci", "build": "npm run build", "out": "build",
            "expect_text": ["Learn React"]},
    "vite-react-pnpm": {"install": "pnpm install --frozen-lockfile", "build": "pnpm run build",
                        "out": "dist", "expect_text": ["Get started", "Documentation"]},
    "vite-react-yarn-berry": {"install": "yarn install --immutable", "build": "yarn run build",
                              "out": "dist", "expect_text": ["Get started", "Documentation"]},
    "vite-react-bun": {"install": "bun install --frozen-lockfile", "build": "bun run build",
                       "out": "dist", "expect_text": ["Get started", "Documentation"]},
}

# Our own code, added to the next-app kind after the scaffolder ran.
NEXT_ROUTE = """\
// Added by tests/e2e/scaffold.py: a route handler that answers JSON.
export async function GET() {
  return Response.json({ message: "hello from the next-app route handler", ok: true });
}
"""
NEXT_ABOUT = """\
// Added by tests/e2e/scaffold.py: a second page, reached with next/link.
import Link from "next/link";

export default function About() {
  return (
    <main className="flex flex-1 w-full max-w-3xl flex-col gap-6 py-32 px-16">
      <h1 className="text-3xl font-semibold">About this app</h1>
      <p>This page was reached with next/link.</p>
      <Link href="/" className="font-medium underline">Back to the home page</Link>
    </main>
  );
}
"""
NEXT_HOME_LINK = """\
        <Link href="/about" className="font-medium underline">
          About this app
        </Link>
"""
ADDITIONS = {"next": [NEXT_ROUTE, NEXT_ABOUT, NEXT_HOME_LINK,
                      "layout: next/font/google -> geist/font/{sans,mono}"]}

# Bump when the procedure below changes in a way that changes the trees.
PROCEDURE = 2

GIT_IDENT = {"GIT_AUTHOR_NAME": "worklet scaffold", "GIT_AUTHOR_EMAIL": "scaffold@worklet.test",
             "GIT_COMMITTER_NAME": "worklet scaffold",
             "GIT_COMMITTER_EMAIL": "scaffold@worklet.test",
             "GIT_AUTHOR_DATE": RESOLVE_BEFORE, "GIT_COMMITTER_DATE": RESOLVE_BEFORE}


class ScaffoldError(Exception):
    pass


def cache_dir():
    return os.environ.get("WL_SCAFFOLD_CACHE", "/var/cache/worklet-test/scaffold")


def kinds():
    return list(SCAFFOLDERS)


def cache_key(kind):
    """kind + scaffolder version + a hash of everything else that shapes the
    tree: arguments, package manager version, the date, our additions."""
    spec = SCAFFOLDERS[kind]
    shaping = {"spec": spec, "before": RESOLVE_BEFORE, "procedure": PROCEDURE,
               "tool": TOOLS.get(spec["pm"], {}).get("package"),
               "additions": ADDITIONS.get(spec.get("additions"), [])}
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:12]
    version = spec["scaffolder"].rsplit("@", 1)[1]
    return "%s-%s-%s" % (kind, version, digest)


def _log(msg):
    if os.environ.get("WL_SCAFFOLD_QUIET") != "1":
        print("scaffold: " + msg, file=sys.stderr, flush=True)


def _age_seconds():
    before = datetime.strptime(RESOLVE_BEFORE, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return max(0, int((datetime.now(timezone.utc) - before).total_seconds()))


def _env(cache):
    env = dict(os.environ)
    env.update({
        "npm_config_cache": os.path.join(cache, "npm"),
        "npm_config_before": RESOLVE_BEFORE,
        # A developer's lockfile records where each package came from; this
        # machine's ~/.npmrc says otherwise.
        "npm_config_omit_lockfile_registry_resolved": "false",
        "npm_config_audit": "false", "npm_config_fund": "false",
        "npm_config_update_notifier": "false", "npm_config_yes": "true",
        "npm_config_loglevel": "warn",
        "NEXT_TELEMETRY_DISABLED": "1", "YARN_ENABLE_TELEMETRY": "0",
        "DO_NOT_TRACK": "1", "CI": "1",
    })
    return env


def _run(cmd, cwd, env, timeout=900):
    t = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise ScaffoldError("%s failed (exit %d) in %s:\n%s" % (
            " ".join(cmd), p.returncode, cwd, p.stdout[-6000:]))
    _log("  %.1fs  %s" % (time.monotonic() - t, " ".join(cmd)))
    return p.stdout


class _Lock:
    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path

    def __enter__(self):
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def tool(name, cache=None, env=None):
    """The command (a list) that runs a package manager, installed from the
    npm registry into the cache on first use."""
    exe = _tool_path(name, cache, env)
    return [TOOLS[name]["via"], exe] if TOOLS[name].get("via") else [exe]


def _tool_path(name, cache, env):
    cache = cache or cache_dir()
    env = env or _env(cache)
    package = TOOLS[name]["package"]
    final = os.path.join(cache, "tools", package.replace("/", "+"))
    exe = os.path.join(final, TOOLS[name]["bin"])
    if os.path.exists(exe):
        return exe
    with _Lock(os.path.join(cache, "locks", "tool-%s.lock" % name)):
        if os.path.exists(exe):
            return exe
        os.makedirs(os.path.dirname(final), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=os.path.dirname(final))
        try:
            # --ignore-scripts: pnpm's install script only swaps its JS entry
            # for a native one; bun's package is the binary itself.
            _run(["npm", "install", "--prefix", tmp, "--no-save", "--ignore-scripts",
                  "--no-package-lock", package], tmp, env)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return exe


def _replace_once(path, old, new, regex=False):
    with open(path) as f:
        text = f.read()
    if regex:
        out, n = re.subn(old, new, text)
    else:
        n = text.count(old)
        out = text.replace(old, new)
    if n != 1:
        raise ScaffoldError("%s: expected one match of %r, found %d (did the scaffolder "
                            "change? update scaffold.py)" % (path, old, n))
    with open(path, "w") as f:
        f.write(out)


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _add_next(app):
    """Our additions to create-next-app's output."""
    layout = os.path.join(app, "app", "layout.tsx")
    _replace_once(layout, 'import { Geist, Geist_Mono } from "next/font/google";',
                  'import { GeistSans } from "geist/font/sans";\n'
                  'import { GeistMono } from "geist/font/mono";')
    _replace_once(layout, r"const geistSans = Geist\(\{[^}]*\}\);",
                  "const geistSans = GeistSans;", regex=True)
    _replace_once(layout, r"const geistMono = Geist_Mono\(\{[^}]*\}\);",
                  "const geistMono = GeistMono;", regex=True)
    _write(os.path.join(app, "app", "api", "hello", "route.ts"), NEXT_ROUTE)
    _write(os.path.join(app, "app", "about", "page.tsx"), NEXT_ABOUT)
    page = os.path.join(app, "app", "page.tsx")
    _replace_once(page, 'import Image from "next/image";\n',
                  'import Image from "next/image";\nimport Link from "next/link";\n')
    _replace_once(page, "      </main>\n", NEXT_HOME_LINK + "      </main>\n")
    return ["app/api/hello/route.ts (a route handler answering JSON)",
            "app/about/page.tsx (a second page) and a next/link link to it on app/page.tsx",
            "app/layout.tsx: the Geist fonts from the geist npm package instead of "
            "next/font/google (which downloads from Google Fonts at build time)"]


def _make(kind, work, cache, env):
    """Scaffold kind into work/<kind>; returns (app dir, commit message lines)."""
    spec = SCAFFOLDERS[kind]
    app = os.path.join(work, kind)
    pkg = spec["scaffolder"]
    notes = []
    if pkg.startswith("create-react-app@"):
        # create-react-app always runs npm install (no skip option) and git
        # init; its installs follow npm_config_before from the environment.
        _run(["npx", "--yes", pkg, kind] + spec["args"], work, env, timeout=1200)
        shutil.rmtree(os.path.join(app, "node_modules"))
        shutil.rmtree(os.path.join(app, ".git"), ignore_errors=True)
    else:
        _run(["npx", "--yes", pkg, kind] + spec["args"], work, env)
        if os.path.exists(os.path.join(app, ".git")):
            shutil.rmtree(os.path.join(app, ".git"))
        if spec.get("additions") == "next":
            notes += _add_next(app)
        pm = spec["pm"]
        if pm == "npm":
            _run(["npm", "install", "--package-lock-only", "--ignore-scripts"] +
                 spec.get("extra_deps", []), app, env)
        elif pm == "pnpm":
            _run(tool("pnpm", cache, env) + ["install", "--lockfile-only", "--ignore-scripts",
                  "--config.minimum-release-age=%d" % (_age_seconds() // 60),
                  "--config.store-dir=" + os.path.join(cache, "pm", "pnpm-store"),
                  "--config.cache-dir=" + os.path.join(cache, "pm", "pnpm-cache"),
                  "--config.state-dir=" + os.path.join(cache, "pm", "pnpm-state")], app, env)
        elif pm == "yarn":
            yenv = dict(env, YARN_GLOBAL_FOLDER=os.path.join(cache, "pm", "yarn"),
                        YARN_ENABLE_GLOBAL_CACHE="1",
                        YARN_NPM_MINIMAL_AGE_GATE=str(_age_seconds() // 60))
            yarn = tool("yarn", cache, env)
            # Without corepack, yarn records itself the way a berry project
            # does: packageManager, .yarnrc.yml's yarnPath, .yarn/releases/.
            _run(yarn + ["set", "version", "self"], app, yenv)
            notes.append("yarn set version self (packageManager, .yarnrc.yml yarnPath, "
                         ".yarn/releases/)")
            for name, value in spec.get("yarn_config", {}).items():
                _run(yarn + ["config", "set", name, value], app, yenv)
                notes.append("yarn config set %s %s" % (name, value))
            _run(yarn + ["install", "--mode=update-lockfile"], app, yenv)
            for junk in ("install-state.gz", "cache", "unplugged"):
                p = os.path.join(app, ".yarn", junk)
                if os.path.isdir(p):
                    shutil.rmtree(p)
                elif os.path.exists(p):
                    os.remove(p)
        elif pm == "bun":
            benv = dict(env, BUN_INSTALL_CACHE_DIR=os.path.join(cache, "pm", "bun"))
            _run(tool("bun", cache, env) + ["install", "--lockfile-only", "--ignore-scripts",
                  "--minimum-release-age=%d" % _age_seconds()], app, benv)
    lockfiles = {"npm": "package-lock.json", "pnpm": "pnpm-lock.yaml", "yarn": "yarn.lock",
                 "bun": "bun.lock"}
    lock = lockfiles[spec["pm"]]
    if not os.path.exists(os.path.join(app, lock)):
        raise ScaffoldError("%s: no %s after scaffolding" % (kind, lock))
    others = [f for f in lockfiles.values() if f != lock and os.path.exists(os.path.join(app, f))]
    if others:
        raise ScaffoldError("%s: unexpected lockfiles %s" % (kind, others))
    if os.path.exists(os.path.join(app, "node_modules")):
        raise ScaffoldError("%s: node_modules left behind" % kind)
    with open(os.path.join(app, "package.json")) as f:
        manifest = json.load(f)
    if spec["pm"] == "pnpm" and "packageManager" in manifest:
        raise ScaffoldError("%s: pnpm wrote a packageManager field" % kind)
    return app, notes


def _commit(app, kind, notes):
    genv = dict(os.environ, **GIT_IDENT)
    spec = SCAFFOLDERS[kind]

    def git(*args):
        subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"] +
                       list(args), cwd=app, env=genv, check=True, stdout=subprocess.DEVNULL)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    msg = ["%s: npx %s %s" % (kind, spec["scaffolder"], " ".join(spec["args"])),
           "",
           "Generated by tests/e2e/scaffold.py; dependencies resolved as of %s with %s." % (
               RESOLVE_BEFORE, TOOLS.get(spec["pm"], {}).get("package", "npm"))]
    if notes:
        msg += ["", "Added by scaffold.py:"] + ["- " + n for n in notes]
    git("commit", "-q", "-m", "\n".join(msg))


def _build(kind, final, cache):
    env = _env(cache)
    trees = os.path.dirname(final)
    # Left by a run that was killed (we hold this kind's lock).
    for old in os.listdir(trees):
        if old.startswith(".tmp-%s-" % kind):
            shutil.rmtree(os.path.join(trees, old), ignore_errors=True)
    work = tempfile.mkdtemp(prefix=".tmp-%s-" % kind, dir=trees)
    try:
        t = time.monotonic()
        app, notes = _make(kind, work, cache, env)
        _commit(app, kind, notes)
        os.rename(app, final)
        _log("%s: made in %.1fs -> %s" % (kind, time.monotonic() - t, final))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cached_tree(kind):
    """The cached repository for kind, making it first if need be."""
    if kind not in SCAFFOLDERS:
        raise ScaffoldError("unknown kind %r (known: %s)" % (kind, ", ".join(SCAFFOLDERS)))
    cache = cache_dir()
    final = os.path.join(cache, "trees", cache_key(kind))
    if os.path.isdir(final):
        return final
    os.makedirs(os.path.dirname(final), exist_ok=True)
    with _Lock(os.path.join(cache, "locks", cache_key(kind) + ".lock")):
        if not os.path.isdir(final):
            _build(kind, final, cache)
    return final


def scaffold(kind, dest):
    """A git repository (branch main, one commit, no node_modules) of a
    freshly scaffolded app of this kind at dest, which must not exist or be
    empty. Returns dest as an absolute path."""
    src = cached_tree(kind)
    dest = os.path.abspath(dest)
    if os.path.isdir(dest):
        if os.listdir(dest):
            raise ScaffoldError("%s is not empty" % dest)
        os.rmdir(dest)
    shutil.copytree(src, dest, symlinks=True)
    return dest


def _main(argv):
    if argv[:1] == ["--list"]:
        for k in SCAFFOLDERS:
            print("%-22s %-26s %-28s %s" % (k, SCAFFOLDERS[k]["scaffolder"],
                                            TOOLS.get(SCAFFOLDERS[k]["pm"], {}).get("package", "npm"),
                                            cache_key(k)))
        return 0
    if argv[:1] == ["--warm"]:
        failed = []
        for k in argv[1:] or kinds():
            t = time.monotonic()
            try:
                cached_tree(k)
                print("warm %-22s %.1fs" % (k, time.monotonic() - t), flush=True)
            except (ScaffoldError, subprocess.TimeoutExpired) as e:
                print("FAILED %s: %s" % (k, e), file=sys.stderr, flush=True)
                failed.append(k)
        return 1 if failed else 0
    if len(argv) != 2 or argv[0].startswith("-"):
        print(__doc__.split("Command line:")[1].split("Python 3")[0].strip(), file=sys.stderr)
        return 2
    t = time.monotonic()
    print(scaffold(argv[0], argv[1]))
    _log("%.2fs" % (time.monotonic() - t))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

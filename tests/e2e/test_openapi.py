"""specs/openapi.yaml matches the implementation: every documented operation
is exercised against the running service, its status must be one the
document lists, and its JSON body must validate against the documented
schema; methods the document does not list are refused."""

import os
import re
import time

import yaml

from wltest import SOURCE_DIR, Failure, check, run

with open(os.path.join(SOURCE_DIR, "specs", "openapi.yaml")) as f:
    DOC = yaml.safe_load(f)


def resolve(schema):
    while "$ref" in schema:
        node = DOC
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def validate(value, schema, where="$"):
    """A small JSON Schema subset: type, nullable, required, properties,
    additionalProperties, items, enum, oneOf."""
    schema = resolve(schema)
    if "oneOf" in schema:
        why = []
        for alt in schema["oneOf"]:
            try:
                validate(value, alt, where)
            except Failure as e:
                why.append(str(e))
        check(len(why) == len(schema["oneOf"]) - 1,
              "%s: must match exactly one of oneOf: %s" % (where, why))
        return
    if value is None:
        check(schema.get("nullable") or not schema, "%s: null not allowed" % where)
        return
    t = schema.get("type")
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t == "integer":
        check(isinstance(value, int) and not isinstance(value, bool)
              or (isinstance(value, float) and value == int(value)),
              "%s: %r is not an integer" % (where, value))
    elif t in kinds:
        check(isinstance(value, kinds[t]), "%s: %r is not %s" % (where, value, t))
    if "enum" in schema:
        check(value in schema["enum"], "%s: %r not in %s" % (where, value, schema["enum"]))
    if t == "object" or "properties" in schema:
        for name in schema.get("required", []):
            check(name in value, "%s: missing required '%s'" % (where, name))
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                validate(v, props[k], "%s.%s" % (where, k))
            elif isinstance(extra, dict):
                validate(v, extra, "%s.%s" % (where, k))
            else:
                # Every field the service sends must be documented.
                check(False, "%s: field '%s' is not in the document" % (where, k))
    if t == "array":
        for i, item in enumerate(value):
            validate(item, schema.get("items", {}), "%s[%d]" % (where, i))


def operation(path, method):
    for template, item in DOC["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template.replace("{path}", "\x00")).replace("\x00", ".*") + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]
    return None


def conforms(env, method, path, **kw):
    api_path = path.split("?")[0]
    op = operation(api_path, method)
    check(op is not None, "%s %s is not documented" % (method, api_path))
    got, body, headers = env.api(method, path, **kw)
    responses = op["responses"]
    check(str(got) in responses, "%s %s answered %d, documented: %s"
          % (method, path, got, sorted(responses)))
    resp = resolve(responses[str(got)])
    content = resp.get("content", {})
    if "application/json" in content and "schema" in content["application/json"]:
        validate(body, content["application/json"]["schema"], "%s %s" % (method, path))
    return got, body


def test_document_matches_the_service(env):
    base = "/api/worklet/worklets"
    conforms(env, "GET", "/healthz", user=None)
    conforms(env, "GET", "/metrics", user=None)
    conforms(env, "GET", base)
    conforms(env, "POST", base, body={"git_repo": "not a url"})
    conforms(env, "GET", base, user=None)
    got, w = conforms(env, "POST", base, body={"git_repo": env.make_repo("static"),
                                               "name": "doc", "environment": {"A": "b"}})
    check(got == 201, w)
    wid = w["id"]
    env.ids.append(wid)
    deadline = time.time() + 300
    while time.time() < deadline:
        got, st = conforms(env, "GET", base + "/%s/status" % wid)
        if st["status"] == "running":
            break
        time.sleep(0.3)
    got, lst = conforms(env, "GET", base)
    check(lst["count"] == 1, lst)
    conforms(env, "GET", base + "/" + wid)
    # The resource form, and PUT taking it back (unchanged: 200), creating
    # with a chosen id (201), refusing a bad document (400).
    got, lst = conforms(env, "GET", base + "?format=resource")
    check(got == 200 and lst["kind"] == "WorkletList" and len(lst["items"]) == 1, lst)
    got, doc = conforms(env, "GET", base + "/%s?format=resource" % wid)
    check(got == 200 and doc["metadata"]["id"] == wid, doc)
    conforms(env, "GET", base + "/%s?format=yaml" % wid)
    got, w2 = conforms(env, "PUT", base + "/" + wid, body=doc)
    check(got == 200 and w2["generation"] == doc["metadata"]["generation"], (got, w2))
    put_id = "doc-put-" + wid[3:]
    env.ids.append(put_id)
    got, w3 = conforms(env, "PUT", base + "/" + put_id,
                       body={"apiVersion": "worklet.dev/v1", "kind": "Worklet",
                             "spec": {"gitRepo": doc["spec"]["gitRepo"],
                                      "runState": "stopped"}})
    check(got == 201 and w3["id"] == put_id and w3["run_state"] == "stopped", (got, w3))
    got, err = conforms(env, "PUT", base + "/" + put_id,
                        body={"apiVersion": "worklet.dev/v1", "kind": "Worklet",
                              "spec": {"gitRep": "x"}})
    check(got == 400 and "spec.gitRep: unknown field" in err["error"]["message"], err)
    got, err = conforms(env, "PUT", base + "/" + put_id, body=doc)
    check(got == 400 and "does not match the id in the URL" in err["error"]["message"], err)
    mine = dict(doc, metadata={"id": put_id})
    got, err = conforms(env, "PUT", base + "/" + put_id, body=mine, user="bob")
    check(got == 409 and err["error"]["code"] == "id_taken", (got, err))
    got, _ = conforms(env, "PUT", base + "/" + put_id, body=mine, user=None)
    check(got == 401, got)
    conforms(env, "GET", base + "/%s/logs?tail=3" % wid)
    conforms(env, "GET", base + "/%s/logs?tail=-1" % wid)
    got, pr = conforms(env, "POST", base + "/%s/prompt" % wid, body={"prompt": "x"})
    check(got == 202, pr)
    conforms(env, "POST", base + "/%s/prompt" % wid, body={"prompt": ""})
    got, lst = conforms(env, "GET", base + "/%s/prompts" % wid)
    check(lst["count"] == 1, lst)
    conforms(env, "GET", base + "/%s/prompts/%s" % (wid, pr["id"]))
    conforms(env, "GET", base + "/%s/prompts/p0000000000000000000" % wid)
    got, _ = conforms(env, "POST", base + "/%s/prompts/%s/cancel" % (wid, pr["id"]))
    check(got in (202, 409), got)
    conforms(env, "POST", base + "/%s/pr" % wid, body={"title": "x"})
    conforms(env, "GET", base + "/%s/proxy/" % wid)
    conforms(env, "GET", base + "/wl-nope/proxy/")
    for action in ("stop", "start", "restart"):
        conforms(env, "POST", base + "/%s/%s" % (wid, action))
    conforms(env, "GET", base + "/wl-nope")
    conforms(env, "DELETE", base + "/" + wid)
    conforms(env, "POST", base + "/%s/start" % wid)  # 409 while deleting, or 404 once gone
    # What the document does not list is refused.
    for method, path in (("PUT", base), ("PATCH", base + "/" + wid),
                         ("POST", base + "/" + wid), ("DELETE", base + "/%s/status" % wid),
                         ("GET", base + "/%s/start" % wid)):
        check(operation(path, method) is None, "test premise: %s %s is documented" % (method, path))
        got, body, _ = env.api(method, path, body={} if method != "GET" else None)
        check(got in (404, 405), "%s %s answered %d" % (method, path, got))


if __name__ == "__main__":
    run([test_document_matches_the_service], "openapi")

#!/usr/bin/env python3
"""Run every scim2-tester check against a SCIM server; print one JSON line per result.

    python run_checks.py BASE_URL TOKEN [options]
    python run_checks.py http://127.0.0.1:8080/scim/v2 "$TOKEN" --tandem-values --extra \
        --expect-failures tests/scim/expected_failures.tsv

Run by the test `scim::scim2_tester_finds_only_the_deliberate_deviations`
(tests/api/scim.rs) against the real server; the interpreter is
$SCIM_TESTER_PYTHON, else python3.

Written for scim2-tester 0.5.2 (scim2-client 0.13.2 with its httpx2 engine,
scim2-models 0.12.3): `pip install "scim2-tester[httpx2]==0.5.2"`.

Each line: {"title", "status", "reason", "description", "resource_type", "tags"}
("status" is a scim2_tester.Status name: SUCCESS, COMPLIANT, ACCEPTABLE,
DEVIATION, ERROR, CRITICAL, SKIPPED). A failed check never raises; the exit
status is 0 unless --expect-failures is given (then 1 when an ERROR/CRITICAL
result is not listed in that file, or a listed one no longer fails).

Options:
  --resource-types User[,Group]  resource types to exercise (default: User)
  --include-tags / --exclude-tags  comma-separated scim2-tester tags
                   (discovery, service-provider-config, resource-types, schemas,
                   misc, crud, crud:create, crud:read, crud:read:attributes,
                   crud:update, crud:delete, patch:add, patch:remove, patch:replace)
  --tandem-values  generate values Tandem accepts by design: userName an email,
                   timezone an IANA zone, externalId left as created on PUT, an
                   address sent in emails primary (Tandem holds one address, the
                   primary work email: a random primary: false would make the
                   add/replace emails checks pass or fail by chance). Without
                   it almost every CRUD check fails on "userName must be an email".
  --extra          also run core_schemas_validation (exported by scim2-tester but
                   not run by check_server) and checks the tester lacks (POST
                   /Users/.search, SCIM bodies on 401/404/405, PATCH remove without
                   a path, PATCH remove of one of two emails); titles start with "extra:".
  --trace FILE     append every HTTP exchange as a JSON line to FILE
  --data           add the result's debugging data (truncated) to each line
  --expect-failures FILE  lines "title" or "title<TAB>reason substring"; '#' comments
"""

import argparse
import json
import random
import sys
import uuid

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server
from scim2_tester.utils import CheckConfig, CheckContext

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Africa/Lagos"]


def fresh_email() -> str:
    return f"scim-{uuid.uuid4().hex[:16]}@example.com"


def install_tandem_values() -> None:
    """Wrap scim2-tester's value generator (bound in three modules)."""
    import scim2_tester.checkers.patch_add as patch_add
    import scim2_tester.checkers.patch_replace as patch_replace
    import scim2_tester.filling as filling

    original = filling.generate_random_value
    state = {"filling": 0}

    def leaf(path) -> str:
        return str(path).replace(":", ".").rsplit(".", 1)[-1].lower()

    def is_email_part(path) -> bool:
        """Whether `path` is in an email (a complex value is filled from its own model)."""
        binding = path.resolve()
        model = binding.target_model if binding else getattr(path, "model", None)
        return str(path).lower().startswith("emails") or "email" in getattr(model, "__name__", "").lower()

    def generate(context, path, mutability=None, required=None):
        name = leaf(path)
        if name == "username":
            return fresh_email()
        if name == "timezone":
            return random.choice(ZONES)
        if name == "primary" and is_email_part(path):
            return True
        if name == "externalid" and state["filling"]:
            return None  # fill_with_random_values keeps the value it had
        return original(context, path=path, mutability=mutability, required=required)

    original_fill = filling.fill_with_random_values

    def fill(context, obj, paths=None, mutability=None, required=None):
        state["filling"] += 1
        try:
            return original_fill(context, obj, paths=paths, mutability=mutability, required=required)
        finally:
            state["filling"] -= 1

    filling.generate_random_value = generate
    filling.fill_with_random_values = fill
    patch_add.generate_random_value = generate
    patch_replace.generate_random_value = generate
    import scim2_tester.checkers.resource_put as resource_put

    resource_put.fill_with_random_values = fill


def http_client(base_url: str, token: str, trace: str | None) -> httpx2.Client:
    hooks = {}
    if trace:
        out = open(trace, "a", encoding="utf-8")

        def on_response(response):
            response.read()
            request = response.request
            body = request.content.decode("utf-8", "replace") if request.content else None
            out.write(json.dumps({
                "method": request.method,
                "url": str(request.url),
                "request": body,
                "status": response.status_code,
                "content_type": response.headers.get("content-type"),
                "response": response.text[:2000],
            }) + "\n")
            out.flush()

        hooks = {"response": [on_response]}
    return httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        event_hooks=hooks,
    )


def first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0].strip() if text and text.strip() else None


def line(result: CheckResult, with_data: bool) -> dict:
    out = {
        "title": result.title,
        "status": result.status.name,
        "reason": result.reason,
        "description": first_line(result.description),
        "resource_type": result.resource_type,
        "tags": sorted(result.tags or []),
    }
    if with_data and result.data is not None:
        out["data"] = repr(result.data)[:1000]
    return out


# --- checks of item 8 that scim2-tester lacks ------------------------------------


def extra(title: str, description: str):
    def wrap(fn):
        def run(http: httpx2.Client) -> dict:
            try:
                status, reason = fn(http)
            except Exception as exc:  # a broken server must not stop the run
                status, reason = "ERROR", f"{type(exc).__name__}: {exc}"
            return {"title": f"extra:{title}", "status": status, "reason": reason,
                    "description": description, "resource_type": None, "tags": ["extra"]}
        return run
    return wrap


def scim_error(response: httpx2.Response, status: int) -> str | None:
    """Why `response` is not a SCIM error with `status`, or None."""
    if response.status_code != status:
        return f"answered {response.status_code}, expected {status}"
    try:
        body = response.json()
    except ValueError:
        return f"{status} without a JSON body ({response.headers.get('content-type')!r}, {len(response.content)} bytes)"
    if body.get("schemas") != [ERROR_SCHEMA]:
        return f"{status} body has schemas {body.get('schemas')!r}, not [{ERROR_SCHEMA}]"
    if str(body.get("status")) != str(status):
        return f"{status} body has status {body.get('status')!r}"
    return None


def create_user(http: httpx2.Client, emails: list[str] | None = None) -> dict:
    body = {"schemas": [USER_SCHEMA], "userName": emails[0] if emails else fresh_email()}
    if emails:
        body["emails"] = [{"value": e, "type": "work", "primary": i == 0} for i, e in enumerate(emails)]
    response = http.post("/Users", json=body)
    if response.status_code != 201:
        raise RuntimeError(f"POST /Users answered {response.status_code}: {response.text[:300]}")
    return response.json()


@extra("users_search", "POST /Users/.search (RFC 7644 §3.4.3) finds a user by filter and honours attributes")
def users_search(http):
    user = create_user(http)
    try:
        response = http.post("/Users/.search", json={
            "schemas": [SEARCH_SCHEMA],
            "filter": f'userName eq "{user["userName"]}"',
            "attributes": ["userName"],
        })
        if response.status_code != 200:
            return "ERROR", f"POST /Users/.search answered {response.status_code}: {response.text[:200]}"
        found = [r for r in response.json().get("Resources", []) if r.get("id") == user["id"]]
        if not found:
            return "ERROR", "the user created is not in the search result"
        extra_attrs = set(found[0]) - {"id", "schemas", "userName"}
        if extra_attrs:
            return "ERROR", f"attributes=userName but the result also has {sorted(extra_attrs)}"
        return "SUCCESS", "POST /Users/.search found the user and returned only id and userName"
    finally:
        http.delete(f"/Users/{user['id']}")


@extra("error_body_404", "Unknown user id and unknown route answer a SCIM error with status \"404\"")
def error_404(http):
    problems = []
    for path in (f"/Users/{uuid.uuid4()}", f"/Nothing{uuid.uuid4().hex[:6]}", "/Users/not-a-uuid"):
        why = scim_error(http.get(path), 404)
        if why:
            problems.append(f"GET {path}: {why}")
    return ("ERROR", "; ".join(problems)) if problems else ("SUCCESS", "all 404s carry a SCIM error")


@extra("error_body_405", "A known route with a method it does not serve answers a SCIM error with status \"405\"")
def error_405(http):
    problems = []
    for method, path in (("DELETE", "/Users"), ("PUT", "/Users"), ("POST", f"/Users/{uuid.uuid4()}"),
                         ("POST", "/ServiceProviderConfig"), ("DELETE", "/Schemas"),
                         ("PATCH", "/ResourceTypes")):
        response = http.request(method, path, json={} if method != "DELETE" else None)
        why = scim_error(response, 405)
        if why:
            problems.append(f"{method} {path}: {why}")
        elif "allow" not in response.headers:
            problems.append(f"{method} {path}: 405 without an Allow header (RFC 9110 §15.5.6)")
    return ("ERROR", "; ".join(problems)) if problems else ("SUCCESS", "all 405s carry a SCIM error")


@extra("error_body_401", "A request without a valid token answers a SCIM error with status \"401\"")
def error_401(http):
    response = http.get("/Users", headers={"Authorization": "Bearer not-a-token"})
    why = scim_error(response, 401)
    return ("ERROR", why) if why else ("SUCCESS", "401 carries a SCIM error")


@extra("patch_remove_without_path", "PATCH remove without a path answers 400 noTarget (RFC 7644 §3.5.2.2)")
def remove_without_path(http):
    user = create_user(http)
    try:
        response = http.patch(f"/Users/{user['id']}", json={
            "schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove"}],
        })
        why = scim_error(response, 400)
        if why:
            return "ERROR", why
        if response.json().get("scimType") != "noTarget":
            return "ERROR", f"scimType {response.json().get('scimType')!r}, expected 'noTarget'"
        return "SUCCESS", "400 noTarget"
    finally:
        http.delete(f"/Users/{user['id']}")


@extra("patch_remove_one_email", "PATCH remove emails[value eq ...] removes that address and keeps the other (RFC 7644 §3.5.2.2)")
def remove_one_email(http):
    first, second = fresh_email(), fresh_email()
    user = create_user(http, [first, second])
    try:
        # RFC 7644 §3.3 lets a server keep less than was sent: only what is
        # removed and what remains is checked.
        response = http.patch(f"/Users/{user['id']}", json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "remove", "path": f'emails[value eq "{second}"]'}],
        })
        if response.status_code not in (200, 204):
            return "ERROR", f"PATCH answered {response.status_code}: {response.text[:200]}"
        after = http.get(f"/Users/{user['id']}").json()
        emails = [e["value"] for e in after.get("emails", [])]
        if second in emails or first not in emails:
            return "ERROR", f"emails after the remove: {emails}, expected {first} and not {second}"
        return "SUCCESS", "the other email remains"
    finally:
        http.delete(f"/Users/{user['id']}")


EXTRAS = [users_search, error_404, error_405, error_401, remove_without_path, remove_one_email]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url")
    parser.add_argument("token")
    parser.add_argument("--resource-types", default="User")
    parser.add_argument("--include-tags")
    parser.add_argument("--exclude-tags")
    parser.add_argument("--tandem-values", action="store_true")
    parser.add_argument("--extra", action="store_true")
    parser.add_argument("--trace")
    parser.add_argument("--data", action="store_true")
    parser.add_argument("--expect-failures")
    args = parser.parse_args()

    if args.tandem_values:
        install_tandem_values()
    tags = lambda raw: set(raw.split(",")) if raw else None  # noqa: E731
    http = http_client(args.base_url, args.token, args.trace)
    client = SyncSCIMClient(http)
    lines = []
    try:
        results = check_server(
            client,
            raise_exceptions=False,
            include_tags=tags(args.include_tags),
            exclude_tags=tags(args.exclude_tags),
            resource_types=args.resource_types.split(",") if args.resource_types else None,
        )
        lines += [line(r, args.data) for r in results]
    except Exception as exc:  # scim2-tester itself broke: report it as a result
        lines.append({"title": "check_server", "status": "ERROR",
                      "reason": f"{type(exc).__name__}: {exc}", "description": None,
                      "resource_type": None, "tags": []})
    if args.extra:
        from scim2_tester.checkers import core_schemas_validation

        context = CheckContext(client, CheckConfig())
        lines += [line(r, args.data) for r in core_schemas_validation(context)]
        for check in EXTRAS:
            lines.append(check(http))
    for out in lines:
        print(json.dumps(out), flush=True)

    if not args.expect_failures:
        return 0
    expected = []
    for raw in open(args.expect_failures, encoding="utf-8"):
        raw = raw.rstrip("\n")
        if raw.strip() and not raw.lstrip().startswith("#"):
            title, _, reason = raw.partition("\t")
            expected.append((title.strip(), reason.strip()))
    failed = [o for o in lines if o["status"] in ("ERROR", "CRITICAL")]
    matches = lambda o, e: o["title"] == e[0] and e[1] in (o["reason"] or "")  # noqa: E731
    unexpected = [o for o in failed if not any(matches(o, e) for e in expected)]
    fixed = [e for e in expected if not any(matches(o, e) for o in failed)]
    for o in unexpected:
        print(f"unexpected failure: {o['title']}: {o['reason']}", file=sys.stderr)
    for e in fixed:
        print(f"expected failure no longer fails: {e[0]} {e[1]}".rstrip(), file=sys.stderr)
    return 1 if unexpected or fixed else 0


if __name__ == "__main__":
    sys.exit(main())

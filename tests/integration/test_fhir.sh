#!/usr/bin/env bash
# The FHIR R4 façade (issue 23, docs/fhir.md): a referral posted as a UK
# Core ServiceRequest (in a Bundle or with contained resources) goes
# through the JSON API's intake and is answered with a Task that follows
# the referral; errors are OperationOutcomes naming the element by
# FHIRPath and change nothing; the API's roles and access rules hold;
# beds and capacity read as Location and HealthcareService. Every resource
# produced is checked against tests/integration/fhir/profiles.json (the
# required elements and value sets, validate.jq): the HL7 validator is
# Java and not available offline in CI.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT
fx=$src/tests/integration/fhir

# A second hospital, with its own ODS code, beside the demo's.
other=integration-other-hospital-token
other_hash=$(printf %s "$other" | sha256sum | cut -d' ' -f1)
demo_area "$tmp/area.yaml" \
  -e "s|id: oakwood-memory$|id: oakwood_memory.2|" \
  -e "s|^organisations:|organisations:\n  - id: other-acute\n    name: Other Acute Trust\n    ods_code: R9X\n    tokens:\n      - role: hospital\n        sha256: $other_hash|"
start main --config "$tmp/area.yaml" || { finish; exit 1; }
db=$tmp/area.db

hub=$(token_of hub) hospital=$(token_of hospital) viewer=$(token_of viewer)
admin=$(token_of admin) provider=$(token_of provider)
today=$(date -u +%F)

# fhir METHOD PATH [TOKEN] [FILE]: like req, the body sent as FHIR JSON.
fhir() {
  local method=$1 path=$2 token=${3:-} file=${4:-}
  local args=(-s -X "$method" --max-time 30 -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}')
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$file" ] && args+=(-H 'Content-Type: application/fhir+json' --data-binary "@$file")
  code=$(curl "${args[@]}" "$base$path")
  body=$(cat "$tmp/body")
  headers=$(tr -d '\r' < "$tmp/headers")
}
# valid: the body passes the structural checks.
valid() {
  local out
  out=$(echo "$body" | jq -r --slurpfile p "$fx/profiles.json" -f "$fx/validate.jq" 2>&1)
  [ -z "$out" ] && ok || bad "not valid FHIR: $out: $body"
}
# example NAME NHS [JQ EDIT]: a fixture with the placeholders filled in,
# edited by jq, into $tmp/NAME.json.
example() {
  local name=$1 nhs=$2 edit=${3:-.}
  sed -e "s/@NHS@/$nhs/" -e "s/@READY@/$today/" \
      -e "s/@TESTED@/${today}T06:00:00+00:00/" -e "s/@ADMITTED@/${today}T01:00:00Z/" \
      "$fx/$name.json" | jq "$edit" > "$tmp/$name.json"
}
# oo STATUS ISSUE-CODE EXPRESSION: an OperationOutcome naming the element.
oo() {
  local want=$1 icode=$2 expr=$3
  if [ "$code" != "$want" ]; then bad "want $want, got $code: $body"; return; fi
  echo "$body" | jq -e --arg c "$icode" --arg e "$expr" \
    '.resourceType == "OperationOutcome" and .issue[0].severity == "error" and .issue[0].code == $c and (if $e == "" then .issue[0].expression == null else .issue[0].expression == [$e] end) and (.issue[0].diagnostics | length > 10)' \
    >/dev/null && ok || bad "want OperationOutcome $icode at '$expr': $body"
  valid
  grep -qi '^content-type: application/fhir+json' <<<"$headers" && ok || bad "error not application/fhir+json: $headers"
}
referrals() { sqlite3 "$db" "SELECT count(*) FROM referral"; }
events() { sqlite3 "$db" "SELECT count(*) FROM event"; }

# ---- metadata ---------------------------------------------------------------
fhir GET /fhir/R4/metadata
expect 200 '.resourceType == "CapabilityStatement" and .fhirVersion == "4.0.1" and .kind == "instance"'
expect 200 '[.rest[0].resource[].type] == ["ServiceRequest", "Task", "Location", "HealthcareService"]'
valid
grep -qi '^content-type: application/fhir+json' <<<"$headers" && ok || bad "metadata content type: $headers"

# ---- round trip: a transaction Bundle ----------------------------------------
p1=$(nhs 1)
example referral-bundle "$p1"
fhir POST /fhir/R4 "$hospital" "$tmp/referral-bundle.json"
expect 201 '.resourceType == "Task" and .status == "accepted" and .intent == "order"'
valid
t1=$(echo "$body" | jq -r .id)
grep -q "^Location: /fhir/R4/Task/$t1$" <<<"$headers" && ok || bad "Location header: $headers"
expect 201 ".for.identifier == {\"system\": \"https://fhir.nhs.uk/Id/nhs-number\", \"value\": \"$p1\"}"
expect 201 '.requester.identifier == {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "R9Z"}'
expect 201 '.businessStatus.coding[0].code == "held" and .businessStatus.coding[1].code == "P3" and (.businessStatus.text | startswith("held, pathway P3"))'
expect 201 '.owner.identifier.value == "VZ9A1" and (.output[] | select(.type.coding[0].code == "bed") | .valueReference.reference | startswith("Location/b.OAK-"))'
expect 201 '.output[] | select(.type.coding[0].code == "discharge-destination") | .valueCodeableConcept.coding[0] | .system == "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland" and .code == "85"'
task=$body
# The Task read back is the one answered; the read is audited as the
# JSON API's.
reads() { sqlite3 "$db" "SELECT count(*) FROM event WHERE kind = 'access.read' AND actor LIKE 'org:demo-acute/hospital%'"; }
before=$(reads)
fhir GET "/fhir/R4/Task/$t1" "$hospital"
expect 200 "del(.lastModified) == ($task | del(.lastModified))"
valid
[ "$(reads)" = $((before + 1)) ] && ok || bad "the FHIR read was not audited as access.read ($before -> $(reads))"
# The same referral through the JSON API, with the data the Bundle carried.
age=$(( $(date -u +%Y) - 1939 - ( 10#$(date -u +%m%d) < 314 ? 1 : 0 ) ))
req GET "/v1/referrals/$t1" "$hub"
expect 200 ".referral.nhs_number == \"$p1\" and .referral.from_org == \"demo-acute\" and .referral.ready_date == \"$today\" and .referral.requested_pathway == \"P3\" and .referral.age == $age and .referral.needs == [\"nursing\"]"
expect 200 ".referral.infections.covid.status == \"negative\" and .referral.infections.covid.tested_at == $(date -u -d "${today}T06:00:00Z" +%s)000"
expect 200 ".referral.state == \"held\" and .decision.pathway == \"P3\""
# ... and as its ServiceRequest.
fhir GET "/fhir/R4/ServiceRequest/$t1" "$hospital"
expect 200 ".status == \"active\" and .subject.identifier.value == \"$p1\" and .occurrenceDateTime == \"$today\" and .code.coding[0].code == \"P3\" and .orderDetail[0].coding[0].code == \"nursing\""
valid
# The intake audited it as the API does, under the hospital's name.
[ "$(sqlite3 "$db" "SELECT count(*) FROM event WHERE kind = 'referral.created' AND actor = 'org:demo-acute/hospital' AND payload LIKE '%\"referral\":$t1%'")" = 1 ] \
  && ok || bad "the FHIR referral was not audited as referral.created by the hospital"

# The same Bundle twice with one Idempotency-Key: the first answer again.
keyed() {
  code=$(curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' \
    -H "Authorization: Bearer $hospital" -H 'Content-Type: application/fhir+json' \
    -H 'Idempotency-Key: epr-0002' --data-binary "@$tmp/referral-bundle.json" "$base/fhir/R4")
  body=$(cat "$tmp/body") headers=$(tr -d '\r' < "$tmp/headers")
}
example referral-bundle "$(nhs 2)"
keyed
expect 201 '.resourceType == "Task"'
t2=$(echo "$body" | jq -r .id)
n=$(referrals)
keyed
expect 200 ".id == \"$t2\" and .status == \"accepted\""
grep -qi '^Idempotent-Replayed: true$' <<<"$headers" && ok || bad "replay not marked: $headers"
[ "$(referrals)" = "$n" ] && ok || bad "a replayed key made a referral"
# ... and with another body: 422, the key named.
example referral-bundle "$(nhs 2)" '.entry[3].resource.priority = "urgent"'
keyed
oo 422 duplicate ""
req POST "/v1/referrals/$t2/cancel" "$hospital" '{"reason": "test done"}'

# ---- contained resources; positive covid goes to the designated wing -----------
p3=$(nhs 3)
example referral-contained "$p3"
fhir POST /fhir/R4/ServiceRequest "$hospital" "$tmp/referral-contained.json"
expect 201 '.status == "accepted" and (.output[] | select(.type.coding[0].code == "bed") | .valueReference.reference | startswith("Location/b.WH-R"))'
expect 201 '.output[] | select(.type.coding[0].code == "discharge-destination") | .valueCodeableConcept.coding[0].code == "65"'
valid
t3=$(echo "$body" | jq -r .id)
req GET "/v1/referrals/$t3" "$hub"
expect 200 '.referral.infections.covid.status == "positive" and .referral.requested_pathway == "step_down" and (.referral.age >= 75)'

# ---- the Task follows the referral ---------------------------------------------
status_of() { fhir GET "/fhir/R4/Task/$1" "$hub"; echo "$body" | jq -r .status; }
req POST "/v1/referrals/$t3/confirm" "$hub" ''
[ "$(status_of "$t3")" = in-progress ] && ok || bad "placed: want in-progress, got $(status_of "$t3")"
req POST "/v1/referrals/$t3/discharge" "$hospital" ''
[ "$(status_of "$t3")" = in-progress ] && ok || bad "discharged: want in-progress"
req POST "/v1/referrals/$t3/complete" "$hub" ''
[ "$(status_of "$t3")" = completed ] && ok || bad "completed: want completed"
fhir GET "/fhir/R4/Task/$t3" "$hub"
valid
fhir GET "/fhir/R4/ServiceRequest/$t3" "$hub"
expect 200 '.status == "completed"'
req POST "/v1/referrals/$t1/delay" "$hospital" '{"reason": "awaiting_p3_bed", "responsible_org": "oakwood-care"}'
fhir GET "/fhir/R4/Task/$t1" "$hub"
expect 200 '.output[] | select(.type.coding[0].code == "delay-reason") | .valueCodeableConcept.coding[0] | .code == "awaiting_p3_bed" and (.display | startswith("Pathway 3"))'
expect 200 '.output[] | select(.type.coding[0].code == "responsible-organisation") | .valueReference.identifier.value == "VZ9A1"'
valid
# The referrer withdraws it in FHIR: the ServiceRequest revoked.
fhir GET "/fhir/R4/ServiceRequest/$t1" "$hospital"
echo "$body" | jq '.status = "active"' > "$tmp/sr.json"
fhir PUT "/fhir/R4/ServiceRequest/$t1" "$hospital" "$tmp/sr.json"
oo 422 business-rule ServiceRequest.status
fhir PUT "/fhir/R4/ServiceRequest/$t1" "$other" "$tmp/sr.json"
oo 404 not-found ""
jq '.status = "revoked" | .note = [{"text": "family took her home"}]' "$tmp/sr.json" > "$tmp/sr2.json"
fhir PUT "/fhir/R4/ServiceRequest/$t1" "$hospital" "$tmp/sr2.json"
expect 200 ".resourceType == \"Task\" and .id == \"$t1\" and .status == \"cancelled\""
valid
[ "$(status_of "$t1")" = cancelled ] && ok || bad "cancelled: want cancelled"
req GET "/v1/referrals/$t1" "$hub"
expect 200 '.referral.state == "cancelled"'
[ "$(sqlite3 "$db" "SELECT count(*) FROM event WHERE kind = 'referral.cancelled' AND payload LIKE '%family took her home%' AND actor = 'org:demo-acute/hospital'")" = 1 ] \
  && ok || bad "the FHIR cancel was not audited with its reason"
fhir PUT "/fhir/R4/ServiceRequest/$t1" "$hospital" "$tmp/sr2.json"
oo 409 conflict ""
fhir GET "/fhir/R4/ServiceRequest/$t1" "$hospital"
expect 200 '.status == "revoked"'
fhir GET "/fhir/R4/Task?status=completed" "$hub"
expect 200 ".resourceType == \"Bundle\" and .type == \"searchset\" and [.entry[].resource.id] == [\"$t3\"]"
valid
fhir GET "/fhir/R4/Task?status=bogus" "$hub"
oo 400 code-invalid Task.status

# ---- invalid resources: an OperationOutcome naming the element, nothing written --
n=$(referrals) e=$(events)
p4=$(nhs 4)
sr='Bundle.entry[3].resource'
pat='Bundle.entry[0].resource'
while IFS='|' read -r edit status icode expr; do
  [ -z "$edit" ] && continue
  example referral-bundle "$p4" "$edit"
  fhir POST /fhir/R4 "$hospital" "$tmp/referral-bundle.json"
  oo "$status" "$icode" "$expr"
done <<EOF
del(.entry[0].resource.identifier)|400|required|$pat.identifier
.entry[0].resource.identifier[0].system = "https://example.org/Id/mrn"|400|code-invalid|$pat.identifier[0].system
.entry[0].resource.identifier[0].value = "9990000019"|400|value|$pat.identifier[0].value
.entry[0].resource.birthDate = "2999-01-01"|400|value|$pat.birthDate
del(.entry[3].resource.subject)|400|required|$sr.subject
.entry[3].resource.subject.reference = "urn:uuid:nowhere"|400|not-found|$sr.subject.reference
.entry[3].resource.subject.reference = "urn:uuid:8e1f2b60-1d1c-4c8e-9d54-0c1a6d3e5a02"|400|value|$sr.subject.reference
del(.entry[3].resource.occurrenceDateTime)|400|required|$sr.occurrence
.entry[3].resource.occurrenceDateTime = "2026-02-30"|400|value|$sr.occurrence
.entry[3].resource.occurrenceDateTime = "2026-12-01T10:00:00"|400|value|$sr.occurrence
del(.entry[3].resource.status)|400|required|$sr.status
.entry[3].resource.status = "pending"|400|code-invalid|$sr.status
.entry[3].resource.status = "draft"|422|business-rule|$sr.status
.entry[3].resource.intent = "plan"|422|business-rule|$sr.intent
.entry[3].resource.priority = "soon"|400|code-invalid|$sr.priority
.entry[3].resource.code.coding[0].code = "P9"|400|code-invalid|$sr.code.coding[0].code
.entry[3].resource.orderDetail[0].coding[0].code = "no spaces"|400|value|$sr.orderDetail
.entry[3].resource.requester.identifier.value = "Y99"|422|not-found|$sr.requester.identifier.value
.entry[3].resource.requester.identifier.system = "https://example.org/org"|400|required|$sr.requester.identifier
del(.entry[1].resource.class)|400|required|Bundle.entry[1].resource.class
.entry[1].resource.status = "admitted"|400|code-invalid|Bundle.entry[1].resource.status
del(.entry[2].resource.status)|400|required|Bundle.entry[2].resource.status
.entry[2].resource.valueCodeableConcept.coding[0].system = "http://loinc.org"|400|code-invalid|Bundle.entry[2].resource.value.coding[0].system
.entry[2].resource.valueCodeableConcept.coding[0].code = "123"|400|code-invalid|Bundle.entry[2].resource.value.coding[0].code
del(.entry[2].resource.valueCodeableConcept)|400|required|Bundle.entry[2].resource.value
.entry[2].resource.effectiveDateTime = "yesterday"|400|value|Bundle.entry[2].resource.effective
.entry[2].resource.effectiveDateTime = "2099-01-01T00:00:00Z"|400|value|Bundle.entry[2].resource.effective
.type = "document"|400|code-invalid|Bundle.type
del(.entry[3])|400|required|Bundle.entry
.entry += [.entry[3]]|422|business-rule|Bundle.entry.resource.ofType(ServiceRequest)
EOF
# The element named in the message too, not the API's field name.
example referral-bundle "$p4" '.entry[2].resource.effectiveDateTime = "2099-01-01T00:00:00Z"'
fhir POST /fhir/R4 "$hospital" "$tmp/referral-bundle.json"
expect 400 '(.issue[0].diagnostics | contains("Bundle.entry[2].resource.effective")) and (.issue[0].diagnostics | contains("infections") | not)'
# Wrong resource for the endpoint, not JSON, not an object.
example referral-contained "$p4"
fhir POST /fhir/R4 "$hospital" "$tmp/referral-contained.json"
oo 400 structure resourceType
echo '{"resourceType": "ServiceRequest",' > "$tmp/broken.json"
fhir POST /fhir/R4/ServiceRequest "$hospital" "$tmp/broken.json"
oo 400 structure ""
[ "$(referrals)" = "$n" ] && [ "$(events)" = "$e" ] && ok || bad "an invalid resource wrote something ($n -> $(referrals), $e -> $(events))"
# A second referral of a person with an active one: 409, naming the number.
example referral-bundle "$p4"
fhir POST /fhir/R4 "$hospital" "$tmp/referral-bundle.json"
expect 201 '.status == "accepted"'
t4=$(echo "$body" | jq -r .id)
fhir POST /fhir/R4 "$hospital" "$tmp/referral-bundle.json"
oo 409 duplicate "$pat.identifier[0].value"

# ---- the API's roles and access rules hold (table-driven) --------------------
# role token | Task/{t4} | POST | what the Task shows of the person
while IFS='|' read -r who tok read post person; do
  fhir GET "/fhir/R4/Task/$t4" "$tok"
  if [ "$read" = 200 ]; then
    expect 200 '.resourceType == "Task"'
    if [ "$person" = yes ]; then expect 200 '.for.identifier.value != null'; else expect 200 '.for == null'; fi
  else
    oo "$read" not-found ""
  fi
  example referral-bundle "$(nhs 9)"
  fhir POST /fhir/R4 "$tok" "$tmp/referral-bundle.json"
  case $post in
    201) [ "$code" = 201 ] || [ "$code" = 409 ] && ok || bad "$who POST: want 201, got $code: $body" ;;
    # Passes the route table, refused for referring in another's name.
    own) oo 403 forbidden "$sr.requester.identifier.value" ;;
    *) oo "$post" forbidden "" ;;
  esac
  fhir GET "/fhir/R4/ServiceRequest/$t4" "$tok"
  [ "$code" = "$read" ] && ok || bad "$who ServiceRequest read: want $read, got $code"
done <<EOF
hub|$hub|200|201|yes
hospital|$hospital|200|201|yes
other hospital|$other|404|own|no
provider (holding the bed)|$(token_of provider)|200|403|yes
viewer|$viewer|200|403|no
admin|$admin|200|403|no
EOF
fhir GET "/fhir/R4/Task/$t4"
oo 401 login ""
# Another hospital may not refer in the demo trust's name.
example referral-bundle "$(nhs 10)"
fhir POST /fhir/R4 "$other" "$tmp/referral-bundle.json"
oo 403 forbidden "$sr.requester.identifier.value"
# ... and lists only its own referrals.
fhir GET /fhir/R4/Task "$other"
expect 200 '.total == 0'

# ---- confirm, decline, discharge, complete through the Task ----------------
# PUT Task/{id} with the Task read back and its status changed, If-Match
# its ETag: the JSON API's action under that action's cell of the role
# matrix, audited as through the JSON API.
oakwood=$(token_of provider) community=demo-community-token
# put_task ID TOKEN FILE [IF-MATCH]: like fhir PUT, with If-Match.
put_task() {
  local args=(-s -X PUT --max-time 30 -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}'
              -H "Authorization: Bearer $2" -H 'Content-Type: application/fhir+json'
              --data-binary "@$3")
  [ -n "${4:-}" ] && args+=(-H "If-Match: $4")
  code=$(curl "${args[@]}" "$base/fhir/R4/Task/$1")
  body=$(cat "$tmp/body")
  headers=$(tr -d '\r' < "$tmp/headers")
}
etag() { sed -n 's/^[Ee][Tt][Aa][Gg]: //p' <<<"$headers"; }
p3() { jq -cn --arg n "$1" --arg d "$today" '{nhs_number: $n, ready_date: $d, requested_pathway: "P3", age: 84, needs: ["nursing"]}'; }
req POST /v1/referrals "$hospital" "$(p3 "$(nhs 20)")"
expect 201 '.referral.state == "held" and (.referral.bed | startswith("OAK"))'
u1=$(echo "$body" | jq -r .referral.id)
fhir GET "/fhir/R4/Task/$u1" "$oakwood"
expect 200 '.status == "accepted" and (.meta.versionId | test("^[0-9]+$")) and (.meta.lastUpdated | type == "string")'
valid
tag=$(etag)
[ "$tag" = "W/\"$(echo "$body" | jq -r .meta.versionId)\"" ] && ok || bad "ETag '$tag' is not the versionId"
echo "$body" | jq '.status = "in-progress"' > "$tmp/confirm.json"
events_before=$(events)
# Bad Tasks: an OperationOutcome naming the element, nothing changed.
jq 'del(.status)' "$tmp/confirm.json" > "$tmp/t.json"; put_task "$u1" "$oakwood" "$tmp/t.json"
oo 400 required Task.status
jq '.status = "done"' "$tmp/confirm.json" > "$tmp/t.json"; put_task "$u1" "$oakwood" "$tmp/t.json"
oo 400 code-invalid Task.status
jq 'del(.intent)' "$tmp/confirm.json" > "$tmp/t.json"; put_task "$u1" "$oakwood" "$tmp/t.json"
oo 400 required Task.intent
jq '.id = "999"' "$tmp/confirm.json" > "$tmp/t.json"; put_task "$u1" "$oakwood" "$tmp/t.json"
oo 400 value Task.id
jq '.resourceType = "ServiceRequest"' "$tmp/confirm.json" > "$tmp/t.json"; put_task "$u1" "$oakwood" "$tmp/t.json"
oo 400 structure resourceType
jq '.status = "on-hold"' "$tmp/confirm.json" > "$tmp/t.json"; put_task "$u1" "$oakwood" "$tmp/t.json"
oo 422 business-rule Task.status
# A stale version: 412, nothing changed.
put_task "$u1" "$oakwood" "$tmp/confirm.json" 'W/"12345"'
oo 412 conflict ""
# The role matrix of POST /v1/referrals/{id}/confirm (table-driven): the
# hospital and the viewer may not confirm, another provider does not see
# the referral, admin may not write.
while IFS='|' read -r who tok want icode; do
  put_task "$u1" "$tok" "$tmp/confirm.json" "$tag"
  oo "$want" "$icode" ""
done <<ROLES
hospital|$hospital|403|forbidden
other hospital|$other|404|not-found
provider without the hold|$community|404|not-found
viewer|$viewer|403|forbidden
admin|$admin|403|forbidden
ROLES
[ "$(events)" = "$events_before" ] && ok || bad "a refused Task update wrote events"
req GET "/v1/referrals/$u1" "$hub"
expect 200 '.referral.state == "held"'
# The holder confirms: placed, the Task in-progress with a new version.
put_task "$u1" "$oakwood" "$tmp/confirm.json" "$tag"
expect 200 ".resourceType == \"Task\" and .id == \"$u1\" and .status == \"in-progress\" and (.businessStatus.coding[0].code == \"placed\")"
valid
tag2=$(etag)
[ -n "$tag2" ] && [ "$tag2" != "$tag" ] && ok || bad "the ETag did not move: '$tag' -> '$tag2'"
req GET "/v1/referrals/$u1" "$hub"
expect 200 '.referral.state == "placed"'
[ "$(sqlite3 "$db" "SELECT count(*) FROM event WHERE kind = 'hold.confirmed' AND json_extract(payload, '\$.referral') = $u1 AND actor = 'org:oakwood-care/provider'")" = 1 ] \
  && ok || bad "the FHIR confirm was not audited as the JSON one"
# The same Task again is no change (200); the old version is refused.
put_task "$u1" "$oakwood" "$tmp/confirm.json"
expect 200 '.status == "in-progress"'
put_task "$u1" "$oakwood" "$tmp/confirm.json" "$tag"
oo 412 conflict ""
# Discharge: the hospital, businessStatus discharged; its status must be
# the one that goes with it.
fhir GET "/fhir/R4/Task/$u1" "$hospital"
echo "$body" | jq '.businessStatus.coding[0].code = "discharged"' > "$tmp/discharge.json"
jq '.status = "completed"' "$tmp/discharge.json" > "$tmp/t.json"; put_task "$u1" "$hospital" "$tmp/t.json"
oo 422 business-rule Task.status
put_task "$u1" "$oakwood" "$tmp/discharge.json"
oo 403 forbidden ""
fhir GET "/fhir/R4/Task/$u1" "$hospital"
put_task "$u1" "$hospital" "$tmp/discharge.json" "$(etag)"
expect 200 '.status == "in-progress" and .businessStatus.coding[0].code == "discharged"'
valid
# Complete: the provider.
echo "$body" | jq '.status = "completed"' > "$tmp/complete.json"
put_task "$u1" "$hospital" "$tmp/complete.json"
oo 403 forbidden ""
put_task "$u1" "$oakwood" "$tmp/complete.json"
expect 200 '.status == "completed"'
req GET "/v1/referrals/$u1" "$hub"
expect 200 '.referral.state == "completed"'
# A completed referral goes nowhere: the state machine's 409.
put_task "$u1" "$hub" "$tmp/confirm.json"
oo 409 conflict ""
# Decline: rejected with the reason in statusReason.text.
req POST /v1/referrals "$hospital" "$(p3 "$(nhs 21)")"
expect 201 '.referral.state == "held" and (.referral.bed | startswith("OAK"))'
u2=$(echo "$body" | jq -r .referral.id)
fhir GET "/fhir/R4/Task/$u2" "$oakwood"
echo "$body" | jq '.status = "rejected"' > "$tmp/reject.json"
put_task "$u2" "$oakwood" "$tmp/reject.json"
oo 400 required Task.statusReason.text
jq '.statusReason = {"text": ""}' "$tmp/reject.json" > "$tmp/t.json"; put_task "$u2" "$oakwood" "$tmp/t.json"
oo 400 value Task.statusReason.text
jq '.statusReason = {"text": "cannot meet her nursing needs this week"}' "$tmp/reject.json" > "$tmp/t.json"
put_task "$u2" "$hospital" "$tmp/t.json"
oo 403 forbidden ""
put_task "$u2" "$oakwood" "$tmp/t.json"
[ "$code" = 200 ] && ok || bad "decline: $code $body"
[ "$(sqlite3 "$db" "SELECT count(*) FROM event WHERE kind = 'hold.declined' AND json_extract(payload, '\$.referral') = $u2 AND json_extract(payload, '\$.reason') = 'cannot meet her nursing needs this week' AND actor = 'org:oakwood-care/provider'")" = 1 ] \
  && ok || bad "the FHIR decline was not audited with its reason"
# Cancel through the Task (the referrer), reason from statusReason.
fhir GET "/fhir/R4/Task/$u2" "$hospital"
echo "$body" | jq '.status = "cancelled" | .statusReason = {"text": "went home with family"}' > "$tmp/cancel.json"
put_task "$u2" "$viewer" "$tmp/cancel.json"
oo 403 forbidden ""
put_task "$u2" "$hospital" "$tmp/cancel.json"
expect 200 '.status == "cancelled"'
[ "$(sqlite3 "$db" "SELECT count(*) FROM event WHERE kind = 'referral.cancelled' AND json_extract(payload, '\$.referral') = $u2 AND payload LIKE '%went home with family%'")" = 1 ] \
  && ok || bad "the FHIR cancel was not audited with its reason"
fhir GET /fhir/R4/metadata
expect 200 '[.rest[0].resource[] | select(.type == "Task") | .interaction[].code] == ["read", "search-type", "update"]'

# ---- beds and capacity -----------------------------------------------------------
fhir GET /fhir/R4/Location "$viewer"
expect 200 '.type == "searchset" and ([.entry[].resource.physicalType.coding[0].code] | unique) == ["si", "wa"]'
valid
fhir GET /fhir/R4/Location/f.oakwood "$viewer"
expect 200 '.identifier[] | select(.system == "https://cqc.org.uk/location-id") | .value == "1-999000001"'
expect 200 '.managingOrganization.identifier.value == "VZ9A1"'
valid
fhir GET /fhir/R4/Location/z.oakwood-main "$viewer"
expect 200 '.partOf.reference == "Location/f.oakwood" and .status == "active"'
fhir GET '/fhir/R4/Location?partof=Location/z.oakwood-main' "$viewer"
expect 200 '.total == 36 and ([.entry[].resource.operationalStatus.code] | index("C")) != null'
valid
free=$(echo "$body" | jq '[.entry[].resource.operationalStatus.code | select(. == "U")] | length')
fhir GET '/fhir/R4/Location?partof=Location/z.oakwood-main&operational-status=U' "$viewer"
expect 200 ".total == $free and .total < 36 and ([.entry[].resource.operationalStatus.code] | unique) == [\"U\"]"
fhir GET '/fhir/R4/Location?operational-status=http://terminology.hl7.org/CodeSystem/v2-0116|U&partof=Location/f.riverside' "$viewer"
expect 200 '.total > 0 and ([.entry[].resource.partOf.reference] | unique) == ["Location/z.riverside-main"]'
fhir GET '/fhir/R4/Location?operational-status=X' "$viewer"
oo 400 code-invalid operational-status
fhir GET '/fhir/R4/Location?organization=VZ9A1' "$viewer"
expect 200 '[.entry[].resource.id] == ["f.oakwood", "z.oakwood-main", "z.oakwood.-memory..2"]'
# Found on main: a caretide id with '_' made a FHIR id outside its form
# ([A-Za-z0-9.-]); '_' is written ".-" and '.' "..", and read back.
fhir GET /fhir/R4/Location/z.oakwood.-memory..2 "$viewer"
expect 200 '.name != null and .partOf.reference == "Location/f.oakwood"'
valid
fhir GET '/fhir/R4/Location?partof=Location/z.oakwood.-memory..2' "$viewer"
expect 200 '.total > 0 and ([.entry[].resource.partOf.reference] | unique) == ["Location/z.oakwood.-memory..2"]'
fhir GET /fhir/R4/Location/z.oakwood_memory.2 "$viewer"
oo 404 not-found ""
fhir GET '/fhir/R4/Location?organization=Q99' "$viewer"
oo 400 code-invalid organization
fhir GET /fhir/R4/Location/b.OAK-036 "$viewer"
expect 200 '.physicalType.coding[0].code == "bd" and .partOf.reference == "Location/z.oakwood-main"'
fhir GET /fhir/R4/Location/b.NOPE "$viewer"
oo 404 not-found ""
fhir GET '/fhir/R4/HealthcareService?organization=VZ9A1' "$viewer"
expect 200 '.total == 1 and .entry[0].resource.providedBy.identifier.value == "VZ9A1"'
expect 200 '.entry[0].resource.extension[0].extension | map({(.url): .valueInteger}) | add | .total == 48 and .available + .held + .occupied + .blocked == 48'
valid
fhir GET /fhir/R4/HealthcareService/willow-stepdown "$viewer"
expect 200 '.type[0].text | startswith("Step-down")'
fhir GET /fhir/R4/HealthcareService/nope "$viewer"
oo 404 not-found ""
fhir GET /fhir/R4/Nothing "$viewer"
oo 404 not-found ""
fhir DELETE /fhir/R4/Location "$viewer"
oo 405 not-supported ""

finish

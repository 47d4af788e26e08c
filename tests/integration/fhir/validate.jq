# Structural checks of a FHIR resource against profiles.json ($p): the
# elements the base resources and UK Core profiles require, the required
# value sets of the coded elements caretide writes, the id and reference
# forms, and the national systems. Prints one line per problem; none when
# the resource passes. Run: jq -r --slurpfile p profiles.json -f validate.jq
def problems($p; $where):
  . as $r
  | ($r.resourceType // "") as $t
  | if ($p[$t] | type) != "object" then "\($where): unknown resourceType '\($t)'"
    else
      ($p[$t].required[] | select(($r[.] // null) == null or $r[.] == [] or $r[.] == "")
        | "\($where): \($t).\(.) is required"),
      ($p[$t].codes | to_entries[] as $e | select($r[$e.key] != null)
        | select(($e.value | index($r[$e.key])) == null)
        | "\($where): \($t).\($e.key) '\($r[$e.key])' is not in its value set"),
      (if $r.id != null and ($r.id | test("^[A-Za-z0-9\\-.]{1,64}$") | not)
       then "\($where): \($t).id '\($r.id)' is not a FHIR id" else empty end),
      (if $t == "OperationOutcome" then
         ($r.issue | to_entries[] | .key as $i | .value as $is
          | ($p._issue.required[] | select($is[.] == null)
             | "\($where): OperationOutcome.issue[\($i)].\(.) is required"),
            ($p._issue.codes | to_entries[] as $e | select(($e.value | index($is[$e.key])) == null)
             | "\($where): OperationOutcome.issue[\($i)].\($e.key) '\($is[$e.key])' is not in its value set"))
       else empty end),
      (if $t == "Bundle" then
         ($r.entry // [] | to_entries[] | .key as $i | .value.resource
          | problems($p; "\($where).entry[\($i)]"))
       else empty end),
      ($r.contained // [] | to_entries[] | .key as $i | .value
        | problems($p; "\($where).contained[\($i)]")),
      # Codings of the national systems carry codes of their sets.
      ([$r | .. | objects | select(.system? == $p._systems.destination)] | .[]
        | . as $c | select(($p._systems.destination_codes | index($c.code)) == null)
        | "\($where): discharge destination '\($c.code)' is not a UK Core code"),
      ([$r | .. | objects | select(.system? == $p._systems.bed_status)] | .[]
        | . as $c | select(($p._systems.bed_status_codes | index($c.code)) == null)
        | "\($where): bed status '\($c.code)' is not a v2-0116 code"),
      ([$r | .. | objects | select(.system? == $p._systems.nhs_number)] | .[]
        | select((.value // "") | test("^[0-9]{10}$") | not)
        | "\($where): NHS number '\(.value)' is not 10 digits"),
      ([$r | .. | objects | select(.system? == $p._systems.ods)] | .[]
        | select((.value // "") | test("^[A-Z0-9]{3,10}$") | not)
        | "\($where): ODS code '\(.value)' is malformed"),
      ([$r | .. | objects | select(has("reference")?) | .reference] | .[]
        | select(test("^(#.+|[A-Z][A-Za-z]+/[A-Za-z0-9\\-.]{1,64}|urn:uuid:.+|https?://.+)$") | not)
        | "\($where): reference '\(.)' is malformed")
    end;
problems($p[0]; "resource")

"""Reads Rapport's FHIR R4 API as a third party would and validates every
resource it answers with the `fhirclient` package's models (generated from
FHIR 4.0.1) in strict mode: a missing required element, a wrong type or an
element FHIR does not define fails the run.

It also creates each official Patient example in EXAMPLES_DIR (when given),
and each Organization, Communication, CommunicationRequest and Consent
example (kept as sent), and validates what Rapport answers and reads back.

Usage: fhir_validate.py BASE_URL TOKEN [EXAMPLES_DIR] (BASE_URL ends in /fhir)."""

import json
import pathlib
import sys
import urllib.request

from fhirclient.models import (appointment, bundle, capabilitystatement, communication, communicationrequest,
                               consent, location, operationoutcome, organization, patient, practitioner, schedule,
                               slot)

MODELS = {
    "Appointment": appointment.Appointment,
    "Bundle": bundle.Bundle,
    "CapabilityStatement": capabilitystatement.CapabilityStatement,
    "Communication": communication.Communication,
    "CommunicationRequest": communicationrequest.CommunicationRequest,
    "Consent": consent.Consent,
    "Location": location.Location,
    "OperationOutcome": operationoutcome.OperationOutcome,
    "Organization": organization.Organization,
    "Patient": patient.Patient,
    "Practitioner": practitioner.Practitioner,
    "Schedule": schedule.Schedule,
    "Slot": slot.Slot,
}


def get(url, token, expect=(200,), body=None):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    if body is not None:
        headers["Content-Type"] = "application/fhir+json"
    request = urllib.request.Request(url, headers=headers, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request) as response:
            status, body, kind = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        status, body, kind = error.code, error.read(), error.headers.get("Content-Type", "")
    expect = expect if isinstance(expect, tuple) else (expect,)
    if status not in expect:
        sys.exit(f"{url}: status {status}, expected {expect}: {body[:300]!r}")
    if not kind.startswith("application/fhir+json"):
        sys.exit(f"{url}: content type {kind!r}")
    return json.loads(body)


def validate(resource, where):
    kind = resource.get("resourceType")
    model = MODELS.get(kind)
    if model is None:
        sys.exit(f"{where}: unexpected resourceType {kind!r}")
    model(resource, strict=True)  # raises FHIRValidationError
    return kind


def ours(value, patient):
    """Every Patient/… reference in `value` made Patient/{patient}."""
    if isinstance(value, dict):
        return {k: (f"Patient/{patient}" if k == "reference" and isinstance(v, str) and v.startswith("Patient/")
                    else ours(v, patient)) for k, v in value.items()}
    if isinstance(value, list):
        return [ours(v, patient) for v in value]
    return value


def main():
    base, token = sys.argv[1].rstrip("/"), sys.argv[2]
    counts = {}

    def check(resource, where):
        kind = validate(resource, where)
        counts[kind] = counts.get(kind, 0) + 1

    check(get(f"{base}/metadata", token), "metadata")
    for kind in ["Patient", "Practitioner", "Location", "Organization", "Appointment", "Communication"]:
        searchset = get(f"{base}/{kind}?_count=50", token)
        check(searchset, f"{kind} search")
        entries = searchset.get("entry", [])
        if not entries:
            sys.exit(f"{kind} search found nothing in the demo")
        for entry in entries:
            check(entry["resource"], entry["fullUrl"])
        first = entries[0]["resource"]["id"]
        check(get(f"{base}/{kind}/{first}", token), f"{kind}/{first}")
    someone = get(f"{base}/Patient?_count=1", token)["entry"][0]["resource"]["id"]
    request = {"resourceType": "CommunicationRequest", "status": "active",
               "identifier": [{"system": "urn:ci:requests", "value": "fhir-validate-1"}],
               "subject": {"reference": f"Patient/{someone}"},
               "payload": [{"contentString": "Your results are ready in the portal."}]}
    asked = get(f"{base}/CommunicationRequest", token, expect=(200, 201), body=json.dumps(request).encode())
    check(asked, "a CommunicationRequest as created")
    check(get(f"{base}/CommunicationRequest/{asked['id']}", token), "the CommunicationRequest as read")
    check(get(f"{base}/CommunicationRequest?patient={someone}", token), "CommunicationRequest search")
    check(get(f"{base}/Communication/{asked['id']}", token), "the Communication it planned")
    included = get(f"{base}/Appointment?_count=5&_include=Appointment:patient&_include=Appointment:location", token)
    check(included, "an Appointment search with _include")
    for entry in included.get("entry", []):
        check(entry["resource"], entry["fullUrl"])
    site = get(f"{base}/Location?_count=1", token)["entry"][0]["resource"]["id"]
    visit = {"resourceType": "Appointment", "status": "booked",
             "start": "2030-01-15T15:00:00Z", "end": "2030-01-15T15:30:00Z",
             "identifier": [{"system": "urn:ci:visits", "value": "fhir-validate-1"}],
             "serviceType": [{"text": "annual exam"}],
             "participant": [{"actor": {"reference": f"Patient/{someone}"}, "status": "accepted"},
                             {"actor": {"reference": f"Location/{site}"}, "status": "accepted"}]}
    booked = get(f"{base}/Appointment", token, expect=201, body=json.dumps(visit).encode())
    check(booked, "an Appointment as created")
    check(get(f"{base}/Appointment/{booked['id']}/_history/1", token), "the Appointment's version 1")
    hours = [{"url": "daysOfWeek", "valueCode": day} for day in ["mon", "tue", "wed", "thu", "fri"]]
    hours += [{"url": "availableStartTime", "valueTime": "09:00:00"}, {"url": "availableEndTime", "valueTime": "12:00:00"}]
    diary = {"resourceType": "Schedule", "active": True,
             "identifier": [{"system": "urn:ci:schedules", "value": "fhir-validate-1"}],
             "actor": [{"reference": f"Location/{site}"}],
             "extension": [{"url": "https://rapport.dev/fhir/StructureDefinition/available-time", "extension": hours},
                           {"url": "https://rapport.dev/fhir/StructureDefinition/slot-minutes", "valueInteger": 20}]}
    made = get(f"{base}/Schedule", token, expect=201, body=json.dumps(diary).encode())
    check(made, "a Schedule as created")
    check(get(f"{base}/Schedule?actor=Location/{site}", token), "Schedule search")
    slots = get(f"{base}/Slot?schedule={made['id']}&start=ge2030-01-14&start=lt2030-01-19", token)
    check(slots, "Slot search")
    if not slots.get("entry"):
        sys.exit("a week of weekday mornings has no slot")
    for entry in slots["entry"]:
        check(entry["resource"], entry["fullUrl"])
    check(get(f"{base}/Slot/{slots['entry'][0]['resource']['id']}", token), "a Slot as read")
    deny = {"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{someone}"},
            "provision": {"type": "deny",
                          "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HMARKT"}],
                          "code": [{"coding": [{"system": "https://rapport.dev/fhir/CodeSystem/channel", "code": "email"}]}]}}
    recorded = get(f"{base}/Consent", token, expect=201, body=json.dumps(deny).encode())
    check(recorded, "a Consent as created")
    check(get(f"{base}/Consent/{recorded['id']}", token), "the Consent as read")
    ledger = get(f"{base}/Consent?patient={someone}", token)
    check(ledger, "Consent search")
    for entry in ledger.get("entry", []):
        check(entry["resource"], entry["fullUrl"])
    if len(sys.argv) > 3:
        for example in sorted(pathlib.Path(sys.argv[3]).glob("Patient-*.json")):
            created = get(f"{base}/Patient", token, expect=201, body=example.read_bytes())
            check(created, f"{example.name} as created")
            check(get(f"{base}/Patient/{created['id']}", token), f"{example.name} as read")
        # Kept as sent (their patient made the demo's): they must come back valid.
        for kind in ["Organization", "Communication", "CommunicationRequest", "Consent"]:
            for example in sorted(pathlib.Path(sys.argv[3]).glob(f"{kind}-*.json")):
                body = ours(json.loads(example.read_text()), someone)
                created = get(f"{base}/{kind}", token, expect=201, body=json.dumps(body).encode())
                check(created, f"{example.name} as kept")
                check(get(f"{base}/{kind}/{created['id']}", token), f"{example.name} as read")
    check(get(f"{base}/Patient?shoe_size=9", token, expect=400), "an unknown parameter's outcome")
    check(get(f"{base}/Patient/00000000-0000-7000-8000-000000000000", token, expect=404), "a missing patient's outcome")
    print("fhirclient (FHIR 4.0.1, strict) accepted: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))


if __name__ == "__main__":
    main()

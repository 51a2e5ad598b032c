"""Sends the public HL7 v2 samples to a running Rapport over MLLP with
python-hl7's own client (hl7.client.MLLPClient, a third party's framing)
and checks every acknowledgement: it names the message's control id, and
its code is the one Rapport owes that message (AA for registrations and
deletions, AE for visits whose location the demo cannot place, AR for the
ADT^A60 one; a control id sent again is answered as the first time).

Usage: python hl7_mllp.py HOST PORT SAMPLES_DIR
"""
import pathlib
import sys

import hl7
from hl7.client import MLLPClient


def prepared(path):
    text = path.read_bytes().decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\r").replace("\n", "\r")


def main():
    host, port, samples = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
    seen = {}
    failures = []
    with MLLPClient(host, port) as client:
        for path in sorted(samples.glob("*.hl7")):
            text = prepared(path)
            message = hl7.parse(text)
            key = (str(message.segment("MSH")[3]), str(message.segment("MSH")[10]))
            answer = hl7.parse(client.send_message(text).decode("utf-8").strip("\x0b\x1c\r"))
            msa = answer.segment("MSA")
            code, control = str(msa[1]), str(msa[2])
            kind = str(message.segment("MSH")[9][0][0])
            if key in seen:
                expected = seen[key]  # a control id sent again: answered as before
            elif kind == "ADT" and str(message.segment("MSH")[9][0][1]) == "A60":
                expected = "AR"
            elif kind == "ADT":
                expected = "AA"
            elif str(message.segment("MSH")[9][0][1]) == "S17":
                expected = "AA"  # a deletion of a visit Rapport never had: nothing to place
            else:
                expected = "AE"  # the demo has three locations and none is named as the sample's
            seen.setdefault(key, code)
            if control != key[1] or code != expected:
                failures.append(f"{path.name}: {code} for {control}, expected {expected} for {key[1]}")
            print(f"{path.name}: {code}")
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"all {len(list(samples.glob('*.hl7')))} samples acknowledged as owed")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mkeventlog.py: a small crypto-agile TCG PC Client event log for the integration tests.

The log has the Spec ID Event03 header (one bank: sha256) and a few events in PCRs 0, 4, 7, 8
and 9, among them an EV_IPL with the kernel command line in PCR 8 (as GRUB measures it). Every
digest is SHA-256 of the event data.

Usage: mkeventlog.py OUT [--cmdline TEXT] [--alter] [--pcrs-json FILE]

Prints one line per extended event, "PCR sha256 HEX", in log order, so the caller can extend the
same values into a TPM (tpm2_pcrextend PCR:sha256=HEX) and get PCRs the log replays to exactly.
--alter changes the digest of one PCR 4 event in the log (the printed lines keep the original
digest: they describe the TPM, the log no longer does), for a log that does not replay.
--pcrs-json writes the replayed values of the PCRs the log (as printed) touches:
{"sha256": {"0": "<hex>", ...}}.
"""
import argparse
import hashlib
import json
import struct
import sys

EV_POST_CODE = 0x00000001
EV_NO_ACTION = 0x00000003
EV_SEPARATOR = 0x00000004
EV_S_CRTM_VERSION = 0x00000008
EV_IPL = 0x0000000D
EV_EFI_ACTION = 0x80000007
TPM_ALG_SHA256 = 0x000B

DEFAULT_CMDLINE = "BOOT_IMAGE=/vmlinuz-6.1.0-kagi root=/dev/mapper/root ro quiet"


def spec_id_header():
    data = b"Spec ID Event03\0"
    data += struct.pack("<IBBBB", 0, 0, 2, 0, 2)  # platformClass, minor, major, errata, uintnSize
    data += struct.pack("<I", 1) + struct.pack("<HH", TPM_ALG_SHA256, 32)
    data += b"\0"  # vendorInfoSize
    return struct.pack("<II", 0, EV_NO_ACTION) + b"\0" * 20 + struct.pack("<I", len(data)) + data


def event2(pcr, etype, digest, data):
    return (struct.pack("<IIIH", pcr, etype, 1, TPM_ALG_SHA256) + digest +
            struct.pack("<I", len(data)) + data)


def events(cmdline):
    utf16 = lambda s: (s + "\0").encode("utf-16-le")
    ev = [
        (0, EV_S_CRTM_VERSION, utf16("kagi test CRTM 1.0")),
        (0, EV_POST_CODE, b"kagi test firmware volume"),
        (7, EV_EFI_ACTION, b"kagi test: Secure Boot disabled"),
    ]
    for pcr in range(8):
        ev.append((pcr, EV_SEPARATOR, b"\0\0\0\0"))
    ev += [
        (4, EV_EFI_ACTION, b"Calling EFI Application from Boot Option"),
        (4, EV_EFI_ACTION, b"kagi test bootloader image"),
        (8, EV_IPL, b"grub_cmd: linux /vmlinuz-6.1.0-kagi\0"),
        (8, EV_IPL, ("kernel_cmdline: " + cmdline + "\0").encode()),
        (9, EV_IPL, b"/vmlinuz-6.1.0-kagi\0"),
        (9, EV_IPL, b"/initrd.img-6.1.0-kagi\0"),
    ]
    return ev


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--cmdline", default=DEFAULT_CMDLINE)
    ap.add_argument("--alter", action="store_true")
    ap.add_argument("--pcrs-json")
    a = ap.parse_args()

    log = spec_id_header()
    pcrs = {}
    lines = []
    altered = False
    for pcr, etype, data in events(a.cmdline):
        digest = hashlib.sha256(data).digest()
        lines.append("%d sha256 %s" % (pcr, digest.hex()))
        pcrs[pcr] = hashlib.sha256(pcrs.get(pcr, b"\0" * 32) + digest).digest()
        if a.alter and pcr == 4 and not altered:
            digest = bytes([digest[0] ^ 0x01]) + digest[1:]
            altered = True
        log += event2(pcr, etype, digest, data)
    with open(a.out, "wb") as f:
        f.write(log)
    if a.pcrs_json:
        with open(a.pcrs_json, "w") as f:
            json.dump({"sha256": {str(k): v.hex() for k, v in sorted(pcrs.items())}}, f)
            f.write("\n")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

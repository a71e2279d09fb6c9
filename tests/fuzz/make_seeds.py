#!/usr/bin/env python3
"""make_seeds.py: writes hand-made request seeds (header + body, no size prefix) into
tests/fuzz/corpus/. Bodies are the byte-exact vectors of tests/unit/test_proto_*.c.
The kcat_* seeds are real captures and zero_* seeds are encodings of all-default
messages of every API version (both made once, not by this script)."""
import os
import struct

BATCH = ("0000000000000000 00000042 00000000 02 33d1140f 0000 00000000 000001a20eac3660"
         "000001a20eac3660 ffffffffffffffff ffff ffffffff 00000001"
         "20 00 00 00 046b6b 046869 02 04686b 046876")

SEEDS = [
    # name, api key, version, header version, body hex
    ("produce_v7_kcat_batch", 0, 7, 1,
     "ffff ffff 00007530 00000001 0001 74 00000001 00000000 0000004e " + BATCH),
    ("fetch_v11", 1, 11, 1,
     "ffffffff 000001f4 00000001 03200000 01 00000000 ffffffff 00000001 0001 74 00000001"
     "00000000 ffffffff 0000000000000000 ffffffffffffffff 00100000 00000000 0000"),
    ("fetch_v12_flexible", 1, 12, 2,
     "ffffffff 000001f4 00000001 03200000 01 00000000 ffffffff 02 02 74 02 00000000 ffffffff"
     "0000000000000000 ffffffff ffffffffffffffff 00100000 00 00 01 01 01 00 03 02 6331"),
    ("listoffsets_v2", 2, 2, 1,
     "ffffffff 01 00000001 0001 74 00000001 00000000 fffffffffffffffe"),
    ("metadata_v6_all", 3, 6, 1, "ffffffff 01"),
    ("metadata_v4_two_topics", 3, 4, 1, "00000002 0001 61 0001 62 01"),
    ("offsetcommit_v7", 8, 7, 1,
     "0002 6731 00000001 0002 6d31 ffff 00000001 0001 74 00000001 00000000 000000000000000a"
     "ffffffff ffff"),
    ("offsetfetch_v6_flexible", 9, 6, 2, "03 6731 02 02 74 02 00000000 00 00"),
    ("findcoordinator_v2", 10, 2, 1, "0002 6731 00"),
    ("joingroup_v5", 11, 5, 1,
     "0002 6731 00002710 0000ea60 0000 ffff 0008 636f6e73756d6572 00000002"
     "0005 72616e6765 00000004 00010000 000a 726f756e64726f62696e 00000004 00010000"),
    ("heartbeat_v3", 12, 3, 1, "0002 6731 00000001 0002 6d31 ffff"),
    ("leavegroup_v3", 13, 3, 1, "0002 6731 00000001 0002 6d31 ffff"),
    ("syncgroup_v3", 14, 3, 1, "0002 6731 00000001 0002 6d31 ffff 00000001 0002 6d31 00000002 aabb"),
    ("apiversions_v3", 18, 3, 2, "0b 6c69 6272 646b 6166 6b61 06 322e 302e 32 00"),
    ("createtopics_v3", 19, 3, 1,
     "00000001 0001 74 ffffffff ffff 00000000 00000001 000e 636c65616e75702e706f6c696379"
     "0007 636f6d70616374 00007530 00"),
    ("deletetopics_v1", 20, 1, 1, "00000002 0001 74 0001 75 00007530"),
    ("initproducerid_v1", 22, 1, 1, "ffff 0000ea60"),
    ("describeconfigs_v2", 32, 2, 1, "00000001 02 0001 74 ffffffff 00"),
    ("createpartitions_v1", 37, 1, 1,
     "00000002 0001 74 00000004 ffffffff 0001 75 00000002 00000001 00000002 00000001 00000002"
     "00007530 00"),
]


# Response bodies behind a request header of the same api key/version: fuzz_request also
# decodes the body bytes as a response (what the CLI and follower fetchers parse).
RESPONSE_SEEDS = [
    ("apiversions_v3", 18, 3, 2,
     "0000 03 0000 0003 0007 00 0012 0000 0003 00 00000000"
     "03 01 08 0000000000000005 02 09 02 03 6d76 0001 0000 00 03 01 01"),
    ("metadata_v6", 3, 6, 1,
     "00000000 00000001 00000001 0009 6c6f63616c686f7374 00002384 ffff 0007 636c7573746572"
     "00000001 00000001 0000 0001 74 00 00000001 0000 00000000 00000001 00000001 00000001"
     "00000001 00000001 00000000"),
    ("fetch_v11", 1, 11, 1,
     "00000000 0000 00000000 00000001 0001 74 00000001 00000000 0000 0000000000000001"
     "0000000000000001 0000000000000000 00000001 0000000000000007 0000000000000003 ffffffff"
     "0000004e " + BATCH),
    ("joingroup_v5", 11, 5, 1,
     "00000000 0000 00000001 0005 72616e6765 0002 6d31 0002 6d31 00000001 0002 6d31 ffff"
     "00000004 00010000"),
    ("createtopics_v5", 19, 5, 2,
     "00000000 02 02 74 0000 00 00000003 0001 02 02 61 02 62 00 05 00 00 01 00 02 001d 00"),
]


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, key, ver, hv, body in SEEDS:
        hdr = struct.pack(">hhi", key, ver, 1) + struct.pack(">h", 4) + b"seed"
        if hv == 2:
            hdr += b"\x00"
        data = hdr + bytes.fromhex(body.replace(" ", ""))
        with open(os.path.join(out, "hand_%s.bin" % name), "wb") as f:
            f.write(data)
    for name, key, ver, hv, body in RESPONSE_SEEDS:
        hdr = struct.pack(">hhi", key, ver, 1) + struct.pack(">h", 4) + b"seed"
        if hv == 2:
            hdr += b"\x00"
        data = hdr + bytes.fromhex(body.replace(" ", ""))
        with open(os.path.join(out, "hand_resp_%s.bin" % name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS) + len(RESPONSE_SEEDS), out))


if __name__ == "__main__":
    main()

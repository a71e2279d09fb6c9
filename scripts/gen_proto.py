#!/usr/bin/env python3
"""gen_proto.py: generates Strata's Kafka message codecs from Kafka's schema files.

Reads every *.json message definition (Apache Kafka's clients/.../common/message format,
"JSON with // comments") in the schema folder and writes:
  include/strata/proto_gen.h   structs, KP_API_* keys, prototypes, the API table type
  src/proto/kp_gen.c           init/decode/encode for every message, both directions,
                               request/response dispatch, the API table, header versions
Both outputs are committed (CI has no schema folder). Version gating, nullability,
flexible encodings, tagged fields and defaults all come from the schemas; nothing here
knows about a particular API.

Usage: scripts/gen_proto.py [--schemas DIR] [--out REPO_ROOT] [--no-format] [--check]
--check regenerates into a temporary directory and fails if the committed files differ.
Default DIR: ../shared/kafka-protocol relative to the repository root. Python 3 stdlib only.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys

PRIMS = {
    # type: (C type, reader fn, writer fn, fixed size)
    "int8": ("int8_t", "kp_rd_i8", "kp_wr_i8", 1),
    "int16": ("int16_t", "kp_rd_i16", "kp_wr_i16", 2),
    "uint16": ("uint16_t", "kp_rd_u16", "kp_wr_u16", 2),
    "int32": ("int32_t", "kp_rd_i32", "kp_wr_i32", 4),
    "uint32": ("uint32_t", "kp_rd_u32", "kp_wr_u32", 4),
    "int64": ("int64_t", "kp_rd_i64", "kp_wr_i64", 8),
    "float64": ("double", "kp_rd_f64", "kp_wr_f64", 8),
    "bool": ("bool", "kp_rd_bool", "kp_wr_bool", 1),
}
VARLEN = {"string", "bytes", "records"}
C_KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
    "typedef", "union", "unsigned", "void", "volatile", "while", "bool", "true", "false",
}


class VRange:
    """An inclusive version range; hi None = open ended; empty when lo is None."""

    def __init__(self, text):
        text = (text or "none").strip()
        if text == "none":
            self.lo, self.hi = None, None
        elif text.endswith("+"):
            self.lo, self.hi = int(text[:-1]), None
        elif "-" in text:
            a, b = text.split("-")
            self.lo, self.hi = int(a), int(b)
        else:
            self.lo = self.hi = int(text)

    def empty(self):
        return self.lo is None

    def contains(self, v):
        return self.lo is not None and v >= self.lo and (self.hi is None or v <= self.hi)

    def cond(self, valid):
        """C condition on `version`, simplified against the message's valid range."""
        if self.empty():
            return "false"
        vlo, vhi = valid
        parts = []
        if self.lo > vlo:
            parts.append("version >= %d" % self.lo)
        if self.hi is not None and self.hi < vhi:
            parts.append("version <= %d" % self.hi)
        if self.lo > vhi or (self.hi is not None and self.hi < vlo):
            return "false"
        return " && ".join(parts) if parts else "true"


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = s.lower()
    if s in C_KEYWORDS:
        s += "_"
    return s


def load_schema(path):
    with open(path, encoding="utf-8") as f:
        lines = [l for l in f.read().split("\n") if not l.strip().startswith("//")]
    return json.loads("\n".join(lines))


class Field:
    pass


class Struct:
    def __init__(self, msg, type_name, is_top):
        self.msg = msg
        self.type_name = type_name
        self.is_top = is_top
        self.cname = "kp_%s" % msg.name if is_top else "kp_%s_%s" % (msg.name, type_name)
        self.fields = []

    def suffix(self):
        return self.msg.name if self.is_top else "%s_%s" % (self.msg.name, self.type_name)


class Message:
    def __init__(self, d):
        self.name = d["name"]
        self.kind = d["type"]
        self.api_key = d.get("apiKey")
        vr = VRange(d["validVersions"])
        self.valid = (vr.lo, vr.hi)
        self.flex = VRange(d.get("flexibleVersions", "none"))
        self.common = {c["name"]: c for c in d.get("commonStructs", [])}
        self.structs = {}  # type name -> Struct
        self.order = []  # structs, children first
        self.top = self.build_struct(self.name, d["fields"], True)

    def build_struct(self, type_name, fields_json, is_top):
        if not is_top and type_name in self.structs:
            return self.structs[type_name]
        s = Struct(self, type_name, is_top)
        if not is_top:
            self.structs[type_name] = s
        for fj in fields_json:
            s.fields.append(self.build_field(fj))
        self.order.append(s)
        return s

    def build_field(self, fj):
        f = Field()
        f.name = fj["name"]
        f.cname = snake(f.name)
        t = fj["type"]
        f.is_array = t.startswith("[]")
        base = t[2:] if f.is_array else t
        f.base = base
        f.versions = VRange(fj["versions"])
        f.nullable = VRange(fj.get("nullableVersions", "none"))
        f.tag = fj.get("tag")
        f.tagged = VRange(fj.get("taggedVersions", "none"))
        f.default = fj.get("default")
        if f.tag is not None and (f.versions.lo, f.versions.hi) != (f.tagged.lo, f.tagged.hi):
            sys.exit("%s.%s: tagged field must be tagged in all its versions" % (self.name, f.name))
        fo = fj.get("flexibleVersions")
        f.flex_override = VRange(fo) if fo is not None else None
        f.struct = None
        if base not in PRIMS and base not in VARLEN and base != "uuid":
            sub = fj.get("fields")
            if sub is None:
                if base not in self.common:
                    sys.exit("%s: unknown type %s" % (self.name, base))
                sub = self.common[base]["fields"]
            f.struct = self.build_struct(base, sub, False)
        return f


# ------------------------------------------------------------------ helpers


def flex_expr(f):
    if f.flex_override is not None:
        return "false" if f.flex_override.empty() else "flex"
    return "flex"


def min_size(msg, f, version, elem=False):
    """Smallest wire size of field f (or of one element when elem) at version."""
    flex = msg.flex.contains(version) and not (f.flex_override and f.flex_override.empty())
    if f.is_array and not elem:
        return 1 if flex else 4
    if f.struct is not None:
        return struct_min_size(f.struct, version)
    if f.base in PRIMS:
        return PRIMS[f.base][3]
    if f.base == "uuid":
        return 16
    if f.base == "string":
        return 1 if flex else 2
    return 1 if flex else 4  # bytes, records


def struct_min_size(s, version):
    n = 0
    for f in s.fields:
        if f.versions.contains(version) and not f.tagged.contains(version):
            n += min_size(s.msg, f, version)
    if s.msg.flex.contains(version):
        n += 1
    return n


def elem_min_size(msg, f):
    lo, hi = msg.valid
    sizes = [min_size(msg, f, v, elem=True) for v in range(lo, hi + 1) if f.versions.contains(v)]
    return max(1, min(sizes) if sizes else 1)


def c_int_literal(ctype, text):
    v = int(str(text), 0)
    if ctype == "int64_t":
        if v == -(2**63):
            return "INT64_MIN"
        return "INT64_C(%d)" % v
    if ctype in ("int32_t", "int16_t", "int8_t") and v == -(2**31):
        return "INT32_MIN"
    if ctype in ("uint32_t", "uint16_t"):
        return "%dU" % v
    return "%d" % v


def default_value(f):
    """C expression of the field's default (scalars and strings), or None for zero."""
    d = f.default
    if f.base in PRIMS:
        if d is None:
            return None
        ctype = PRIMS[f.base][0]
        if f.base == "bool":
            return "true" if str(d).lower() == "true" else None
        if f.base == "float64":
            return str(float(d)) if float(d) != 0 else None
        v = c_int_literal(ctype, d)
        return None if int(str(d), 0) == 0 else v
    if f.base == "string":
        if d == "null":
            return None
        return json.dumps(d if d is not None else "")
    return None


# ------------------------------------------------------------------ header


def gen_struct_decl(s, out):
    out.append("typedef struct %s {" % s.cname)
    if not s.fields:
        out.append("    char unused_; /* no fields */")
    for f in s.fields:
        vers = "versions %s%s" % (
            f.versions.lo, "+" if f.versions.hi is None else "-%d" % f.versions.hi)
        extra = []
        if not f.nullable.empty():
            extra.append("nullable")
        if f.tag is not None:
            extra.append("tag %d" % f.tag)
        if f.default is not None:
            extra.append("default %s" % f.default)
        comment = "/* %s%s */" % (vers, (", " + ", ".join(extra)) if extra else "")
        if f.is_array:
            if f.struct is not None:
                et = "%s_t *" % f.struct.cname
            elif f.base == "string":
                et = "char **"
            elif f.base in PRIMS:
                et = "%s *" % PRIMS[f.base][0]
            elif f.base == "uuid":
                et = "uint8_t (*)[16]"
            else:
                sys.exit("unsupported array type %s" % f.base)
            out.append("    int32_t n_%s; /* -1 = null */" % f.cname)
            if f.base == "uuid":
                out.append("    uint8_t (*%s)[16]; %s" % (f.cname, comment))
            else:
                out.append("    %s%s; %s" % (et, f.cname, comment))
        elif f.struct is not None:
            out.append("    %s_t %s; %s" % (f.struct.cname, f.cname, comment))
        elif f.base in PRIMS:
            out.append("    %s %s; %s" % (PRIMS[f.base][0], f.cname, comment))
        elif f.base == "uuid":
            out.append("    uint8_t %s[16]; %s" % (f.cname, comment))
        elif f.base == "string":
            out.append("    char *%s; %s" % (f.cname, comment))
        elif f.base == "bytes":
            out.append("    kp_bytes_t %s; %s" % (f.cname, comment))
        elif f.base == "records":
            out.append("    kp_records_t %s; %s" % (f.cname, comment))
    out.append("} %s_t;" % s.cname)
    out.append("")


def gen_header(msgs, apis):
    out = []
    out.append("/*")
    out.append(" * proto_gen.h: GENERATED by scripts/gen_proto.py from Kafka's message schemas")
    out.append(" * (../shared/kafka-protocol). Do not edit; rerun the script. Include strata/proto.h.")
    out.append(" *")
    out.append(" * Per message: a struct (fields snake_case; arrays as n_<field> (-1 = null) plus a")
    out.append(" * pointer; strings NUL-terminated, NULL = null; bytes/records point into the input),")
    out.append(" * kp_init_<T>() (zero + schema defaults), kp_decode_<Msg>() and kp_encode_<Msg>().")
    out.append(" */")
    out.append("#ifndef STRATA_PROTO_GEN_H")
    out.append("#define STRATA_PROTO_GEN_H")
    out.append("")
    out.append('#include "strata/proto.h"')
    out.append("")
    out.append("/* API keys of every schema in the folder. */")
    out.append("typedef enum kp_api_key {")
    for key, name, _, _, _ in apis:
        out.append("    KP_API_%s = %d," % (name, key))
    out.append("} kp_api_key_t;")
    out.append("#define KP_API_COUNT %d /* entries in the API table */" % len(apis))
    out.append("")
    out.append("typedef struct kp_api_info {")
    out.append("    int16_t api_key;")
    out.append("    const char *name; /* Kafka's spelling: \"Produce\" */")
    out.append("    int16_t min_version, max_version; /* schema validVersions */")
    out.append("    int16_t first_flexible;           /* -1 = never flexible */")
    out.append("} kp_api_info_t;")
    out.append("")
    out.append("/** The schema facts for api_key, or NULL when no schema is known. */")
    out.append("const kp_api_info_t *kp_api_info(int16_t api_key);")
    out.append("/** The i-th entry of the table (0 <= i < KP_API_COUNT), sorted by api key. */")
    out.append("const kp_api_info_t *kp_api_info_at(size_t i);")
    out.append("/** true when version of api_key uses the flexible encoding. */")
    out.append("bool kp_api_is_flexible(int16_t api_key, int16_t version);")
    out.append("/**")
    out.append(" * Request header version (0, 1 or 2) for api_key/version: 2 for flexible versions,")
    out.append(" * 0 only for ControlledShutdown v0, 1 otherwise (also for unknown keys).")
    out.append(" */")
    out.append("int kp_request_header_version(int16_t api_key, int16_t version);")
    out.append("/** Response header version: 1 for flexible versions, else 0; ApiVersions: always 0. */")
    out.append("int kp_response_header_version(int16_t api_key, int16_t version);")
    out.append("")
    out.append("/*")
    out.append(" * Generic dispatch over the api key (fuzzing, the api layer's table). decode allocates")
    out.append(" * the message struct in rd->arena and sets *out. @returns 0, STRATA_ECORRUPT")
    out.append(" * (truncated/garbled) or STRATA_EINVAL (unknown key or version outside the schema).")
    out.append(" */")
    out.append("int kp_decode_request_body(kp_rd_t *rd, int16_t api_key, int16_t version, void **out);")
    out.append("int kp_decode_response_body(kp_rd_t *rd, int16_t api_key, int16_t version, void **out);")
    out.append("int kp_encode_request_body(kp_wr_t *wr, int16_t api_key, int16_t version, const void *in);")
    out.append("int kp_encode_response_body(kp_wr_t *wr, int16_t api_key, int16_t version, const void *in);")
    out.append("")
    for m in msgs:
        out.append("/* ---------------- %s (%s%s, versions %d-%d, flexible %s) */" % (
            m.name, m.kind, "" if m.api_key is None else " api key %d" % m.api_key,
            m.valid[0], m.valid[1], "none" if m.flex.empty() else "%d+" % m.flex.lo))
        out.append("")
        for s in m.order:
            gen_struct_decl(s, out)
        for s in m.order:
            out.append("void kp_init_%s(%s_t *m);" % (s.suffix(), s.cname))
        out.append("/** @returns 0, STRATA_ECORRUPT, or STRATA_EINVAL for a version outside %d-%d. */"
                   % m.valid)
        out.append("int kp_decode_%s(kp_rd_t *rd, int16_t version, %s_t *out);" % (m.name, m.top.cname))
        out.append("/** An unknown version sets wr->err = STRATA_EINVAL and writes nothing. */")
        out.append("void kp_encode_%s(kp_wr_t *wr, int16_t version, const %s_t *in);"
                   % (m.name, m.top.cname))
        out.append("")
    out.append("#endif /* STRATA_PROTO_GEN_H */")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ source


def dec_value(msg, f, rd, target, elem=False, version_var="version"):
    """Lines decoding one value of f (one element when elem) into lvalue target."""
    fx = flex_expr(f)
    nul = "false" if elem else f.nullable.cond(msg.valid)
    if f.struct is not None:
        return ["dec_%s(%s, %s, &%s);" % (f.struct.suffix(), rd, version_var, target)]
    if f.base in PRIMS:
        return ["%s = %s(%s);" % (target, PRIMS[f.base][1], rd)]
    if f.base == "uuid":
        return ["kp_rd_uuid(%s, %s);" % (rd, target)]
    if f.base == "string":
        return ["%s = kp_rd_string(%s, %s, %s);" % (target, rd, fx, nul)]
    if f.base == "bytes":
        return ["%s = kp_rd_bytes(%s, %s, %s);" % (target, rd, fx, nul)]
    if f.base == "records":
        return ["%s = kp_rd_records(%s, %s, %s);" % (target, rd, fx, nul)]
    sys.exit("dec: unsupported %s" % f.base)


def dec_field(msg, f, rd, obj):
    target = "%s->%s" % (obj, f.cname)
    if not f.is_array:
        return dec_value(msg, f, rd, target)
    fx = flex_expr(f)
    nul = f.nullable.cond(msg.valid)
    lines = ["{"]
    lines.append("    int32_t n = kp_rd_array_len(%s, %s, %s, %d);" % (rd, fx, nul, elem_min_size(msg, f)))
    lines.append("    %s->n_%s = n;" % (obj, f.cname))
    lines.append("    %s = NULL;" % target)
    lines.append("    if (n > 0) {")
    lines.append("        %s = arena_alloc(%s->arena, (size_t)n * sizeof(*%s));" % (target, rd, target))
    lines.append("        for (int32_t i = 0; i < n && !%s->err; i++) {" % rd)
    if f.struct is not None:
        lines.append("            kp_init_%s(&%s[i]);" % (f.struct.suffix(), target))
    for l in dec_value(msg, f, rd, "%s[i]" % target, elem=True):
        lines.append("            " + l)
    lines.append("        }")
    lines.append("    }")
    lines.append("}")
    return lines


def enc_value(msg, f, wr, src, elem=False):
    fx = flex_expr(f)
    nul = "false" if elem else f.nullable.cond(msg.valid)
    if f.struct is not None:
        return ["enc_%s(%s, version, &%s);" % (f.struct.suffix(), wr, src)]
    if f.base in PRIMS:
        return ["%s(%s, %s);" % (PRIMS[f.base][2], wr, src)]
    if f.base == "uuid":
        return ["kp_wr_uuid(%s, %s);" % (wr, src)]
    if f.base == "string":
        return ["kp_wr_string(%s, %s, %s, %s);" % (wr, src, fx, nul)]
    if f.base == "bytes":
        return ["kp_wr_bytes(%s, %s, %s, %s);" % (wr, src, fx, nul)]
    if f.base == "records":
        return ["kp_wr_records(%s, &%s, %s, %s);" % (wr, src, fx, nul)]
    sys.exit("enc: unsupported %s" % f.base)


def enc_field(msg, f, wr, obj):
    src = "%s->%s" % (obj, f.cname)
    if not f.is_array:
        return enc_value(msg, f, wr, src)
    fx = flex_expr(f)
    nul = f.nullable.cond(msg.valid)
    lines = ["kp_wr_array_len(%s, %s->n_%s, %s, %s);" % (wr, obj, f.cname, fx, nul)]
    lines.append("for (int32_t i = 0; i < %s->n_%s; i++) {" % (obj, f.cname))
    for l in enc_value(msg, f, wr, "%s[i]" % src, elem=True):
        lines.append("    " + l)
    lines.append("}")
    return lines


def nondefault_expr(f, obj):
    """C expression: true when obj->field differs from its default (tagged fields)."""
    x = "%s->%s" % (obj, f.cname)
    if f.is_array:
        return "%s->n_%s != 0" % (obj, f.cname)
    if f.struct is not None:
        return "!is_default_%s(&%s)" % (f.struct.suffix(), x)
    if f.base in PRIMS:
        d = default_value(f)
        return "%s != %s" % (x, d if d is not None else ("false" if f.base == "bool" else "0"))
    if f.base == "uuid":
        return "!uuid_is_zero(%s)" % x
    if f.base == "string":
        if f.default == "null":
            return "%s != NULL" % x
        d = f.default if f.default is not None else ""
        if d == "":
            return "(%s != NULL && %s[0] != '\\0')" % (x, x)
        return "(%s == NULL || strcmp(%s, %s) != 0)" % (x, x, json.dumps(d))
    if f.base == "bytes":
        return "%s.len > 0" % x
    if f.base == "records":
        return "%s.len > 0" % x
    sys.exit("nondefault: %s" % f.base)


def gen_struct_code(m, s, out, needs_isdef):
    sfx = s.suffix()
    ct = "%s_t" % s.cname
    # init
    out.append("void kp_init_%s(%s *m) {" % (sfx, ct))
    out.append("    memset(m, 0, sizeof(*m));")
    for f in s.fields:
        if f.is_array:
            continue
        if f.struct is not None:
            out.append("    kp_init_%s(&m->%s);" % (f.struct.suffix(), f.cname))
        elif f.base == "records":
            out.append("    m->%s = kp_records_mem(NULL, 0);" % f.cname)
        else:
            d = default_value(f)
            if d is not None:
                if f.base == "string":
                    out.append("    m->%s = (char *)%s;" % (f.cname, d))
                else:
                    out.append("    m->%s = %s;" % (f.cname, d))
    out.append("}")
    out.append("")
    # is_default (only for structs used as tagged values)
    if s in needs_isdef:
        out.append("static bool is_default_%s(const %s *m) {" % (sfx, ct))
        exprs = [nondefault_expr(f, "m") for f in s.fields]
        if exprs:
            out.append("    return !(" + " ||\n             ".join(exprs) + ");")
        else:
            out.append("    (void)m;")
            out.append("    return true;")
        out.append("}")
        out.append("")
    flex_c = "false" if m.flex.empty() else ("version >= %d" % m.flex.lo)
    # Kafka's tagged fields are tagged in every version they exist in (checked in main)
    positional = [f for f in s.fields if f.tag is None]
    tagged = [f for f in s.fields if f.tag is not None]
    # decode
    out.append("static void dec_%s(kp_rd_t *rd, int16_t version, %s *out) {" % (sfx, ct))
    out.append("    const bool flex = %s;" % flex_c)
    out.append("    (void)flex;")
    out.append("    (void)version;")
    for f in positional:
        cond = f.versions.cond(m.valid)
        if cond == "false":
            continue
        body = dec_field(m, f, "rd", "out")
        emit_cond(out, cond, body, 1)
    if not m.flex.empty():
        if not tagged:
            out.append("    if (flex) {")
            out.append("        kp_rd_skip_tags(rd);")
            out.append("    }")
        else:
            out.append("    if (flex) {")
            out.append("        uint32_t ntags = kp_rd_uvarint(rd);")
            out.append("        for (uint32_t t = 0; t < ntags && !rd->err; t++) {")
            out.append("            uint32_t tag = kp_rd_uvarint(rd);")
            out.append("            uint32_t size = kp_rd_uvarint(rd);")
            out.append("            const uint8_t *p = kp_rd_raw(rd, size);")
            out.append("            if (p == NULL) {")
            out.append("                break;")
            out.append("            }")
            out.append("            kp_rd_t sub;")
            out.append("            kp_rd_init(&sub, p, size, rd->arena);")
            out.append("            switch (tag) {")
            for f in tagged:
                out.append("            case %d:" % f.tag)
                body = dec_field(m, f, "(&sub)", "out")
                emit_cond(out, f.tagged.cond(m.valid), body, 4)
                out.append("                break;")
            out.append("            default:")
            out.append("                break; /* unknown tags are skipped */")
            out.append("            }")
            out.append("            if (sub.err) {")
            out.append("                kp_rd_fail(rd);")
            out.append("            }")
            out.append("        }")
            out.append("    }")
    out.append("}")
    out.append("")
    # encode
    out.append("static void enc_%s(kp_wr_t *wr, int16_t version, const %s *in) {" % (sfx, ct))
    out.append("    const bool flex = %s;" % flex_c)
    out.append("    (void)flex;")
    out.append("    (void)version;")
    for f in positional:
        cond = f.versions.cond(m.valid)
        if cond == "false":
            continue
        emit_cond(out, cond, enc_field(m, f, "wr", "in"), 1)
    if not m.flex.empty():
        out.append("    if (flex) {")
        if not tagged:
            out.append("        kp_wr_uvarint(wr, 0);")
        else:
            for f in tagged:
                out.append("        const bool w_%s = (%s) && (%s);" % (
                    f.cname, f.tagged.cond(m.valid), nondefault_expr(f, "in")))
            out.append("        kp_wr_uvarint(wr, (uint32_t)(%s));" % " + ".join(
                "(w_%s ? 1 : 0)" % f.cname for f in tagged))
            for f in sorted(tagged, key=lambda x: x.tag):
                out.append("        if (w_%s) {" % f.cname)
                out.append("            kp_wr_t sub;")
                out.append("            kp_wr_init(&sub);")
                for l in enc_field(m, f, "(&sub)", "in"):
                    out.append("            " + l)
                out.append("            kp_wr_uvarint(wr, %d);" % f.tag)
                out.append("            kp_wr_uvarint(wr, (uint32_t)sub.buf.len);")
                out.append("            kp_wr_append(wr, &sub);")
                out.append("            kp_wr_destroy(&sub);")
                out.append("        }")
        out.append("    }")
    out.append("}")
    out.append("")


def emit_cond(out, cond, body, indent):
    pad = "    " * indent
    if cond == "true":
        if len(body) == 1 or body[0] == "{":
            for l in body:
                out.append(pad + l)
        else:
            for l in body:
                out.append(pad + l)
        return
    out.append(pad + "if (%s) {" % cond)
    for l in body:
        out.append(pad + "    " + l)
    out.append(pad + "}")


def gen_source(msgs, apis):
    out = []
    out.append("/*")
    out.append(" * kp_gen.c: GENERATED by scripts/gen_proto.py from Kafka's message schemas")
    out.append(" * (../shared/kafka-protocol). Do not edit; rerun the script.")
    out.append(" *")
    out.append(" * Codecs for every message, both directions. Invariants: (1) decoders read only through")
    out.append(" * kp_rd_* (bounds-checked, sticky error), so any input is safe; (2) every array count")
    out.append(" * was checked against the remaining bytes before its elements are allocated; (3) all")
    out.append(" * version gates come from the schema's versions / nullableVersions / taggedVersions.")
    out.append(" */")
    out.append("#include <string.h>")
    out.append("")
    out.append('#include "strata/proto.h"')
    out.append("")
    out.append("static inline __attribute__((unused)) bool uuid_is_zero(const uint8_t u[16]) {")
    out.append("    static const uint8_t zero[16];")
    out.append("    return memcmp(u, zero, 16) == 0;")
    out.append("}")
    out.append("")
    out.append("static const kp_api_info_t api_table[] = {")
    for key, name, lo, hi, flex in apis:
        out.append('    {%d, "%s", %d, %d, %d},' % (key, name, lo, hi, flex))
    out.append("};")
    out.append("")
    out.append("const kp_api_info_t *kp_api_info(int16_t api_key) {")
    out.append("    for (size_t i = 0; i < sizeof(api_table) / sizeof(api_table[0]); i++) {")
    out.append("        if (api_table[i].api_key == api_key) {")
    out.append("            return &api_table[i];")
    out.append("        }")
    out.append("    }")
    out.append("    return NULL;")
    out.append("}")
    out.append("")
    out.append("const kp_api_info_t *kp_api_info_at(size_t i) {")
    out.append("    return i < sizeof(api_table) / sizeof(api_table[0]) ? &api_table[i] : NULL;")
    out.append("}")
    out.append("")
    out.append("bool kp_api_is_flexible(int16_t api_key, int16_t version) {")
    out.append("    const kp_api_info_t *a = kp_api_info(api_key);")
    out.append("    return a != NULL && a->first_flexible >= 0 && version >= a->first_flexible;")
    out.append("}")
    out.append("")
    out.append("int kp_request_header_version(int16_t api_key, int16_t version) {")
    out.append("    if (api_key == 7 && version == 0) {")
    out.append("        return 0; /* ControlledShutdown v0 has no client id */")
    out.append("    }")
    out.append("    return kp_api_is_flexible(api_key, version) ? 2 : 1;")
    out.append("}")
    out.append("")
    out.append("int kp_response_header_version(int16_t api_key, int16_t version) {")
    out.append("    if (api_key == KP_API_ApiVersions) {")
    out.append("        return 0; /* clients parse ApiVersions before knowing the broker's versions */")
    out.append("    }")
    out.append("    return kp_api_is_flexible(api_key, version) ? 1 : 0;")
    out.append("}")
    out.append("")
    # which structs need is_default
    needs = set()

    def mark(s):
        if s in needs:
            return
        needs.add(s)
        for f in s.fields:
            if f.struct is not None and not f.is_array:
                mark(f.struct)
    for m in msgs:
        for s in m.order:
            for f in s.fields:
                if f.tag is not None and f.struct is not None and not f.is_array:
                    mark(f.struct)
    for m in msgs:
        out.append("/* ================================================================ %s */" % m.name)
        out.append("")
        for s in m.order:
            gen_struct_code(m, s, out, needs)
        ct = "%s_t" % m.top.cname
        out.append("int kp_decode_%s(kp_rd_t *rd, int16_t version, %s *out) {" % (m.name, ct))
        out.append("    kp_init_%s(out);" % m.name)
        out.append("    if (version < %d || version > %d) {" % m.valid)
        out.append("        return STRATA_EINVAL;")
        out.append("    }")
        out.append("    dec_%s(rd, version, out);" % m.name)
        out.append("    return kp_rd_err(rd);")
        out.append("}")
        out.append("")
        out.append("void kp_encode_%s(kp_wr_t *wr, int16_t version, const %s *in) {" % (m.name, ct))
        out.append("    if (version < %d || version > %d) {" % m.valid)
        out.append("        wr->err = STRATA_EINVAL;")
        out.append("        return;")
        out.append("    }")
        out.append("    enc_%s(wr, version, in);" % m.name)
        out.append("}")
        out.append("")
    # dispatch
    for kind, suffix in (("request", "Request"), ("response", "Response")):
        out.append("int kp_decode_%s_body(kp_rd_t *rd, int16_t api_key, int16_t version, void **out) {"
                   % kind)
        out.append("    switch (api_key) {")
        for key, name, _, _, _ in apis:
            mn = name + suffix
            out.append("    case %d: {" % key)
            out.append("        kp_%s_t *m = arena_alloc(rd->arena, sizeof(*m));" % mn)
            out.append("        *out = m;")
            out.append("        return kp_decode_%s(rd, version, m);" % mn)
            out.append("    }")
        out.append("    default:")
        out.append("        *out = NULL;")
        out.append("        return STRATA_EINVAL;")
        out.append("    }")
        out.append("}")
        out.append("")
        out.append("int kp_encode_%s_body(kp_wr_t *wr, int16_t api_key, int16_t version, const void *in) {"
                   % kind)
        out.append("    const kp_api_info_t *a = kp_api_info(api_key);")
        out.append("    if (a == NULL || version < a->min_version || version > a->max_version) {")
        out.append("        return STRATA_EINVAL;")
        out.append("    }")
        out.append("    switch (api_key) {")
        for key, name, _, _, _ in apis:
            mn = name + suffix
            out.append("    case %d:" % key)
            out.append("        kp_encode_%s(wr, version, (const kp_%s_t *)in);" % (mn, mn))
            out.append("        return wr->err;")
        out.append("    default:")
        out.append("        return STRATA_EINVAL;")
        out.append("    }")
        out.append("}")
        out.append("")
    return "\n".join(out) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schemas", default=os.path.join(root, "..", "shared", "kafka-protocol"))
    ap.add_argument("--out", default=root, help="repository root to write into")
    ap.add_argument("--no-format", action="store_true", help="do not run clang-format")
    ap.add_argument("--check", action="store_true",
                    help="fail when the committed outputs differ from a fresh generation")
    args = ap.parse_args()
    if args.check:
        import filecmp
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "include", "strata"))
            os.makedirs(os.path.join(tmp, "src", "proto"))
            shutil.copy(os.path.join(args.out, ".clang-format"), tmp)
            cmd = [sys.executable, os.path.abspath(__file__), "--schemas", args.schemas,
                   "--out", tmp] + (["--no-format"] if args.no_format else [])
            subprocess.check_call(cmd, stdout=subprocess.DEVNULL)
            stale = [rel for rel in ("include/strata/proto_gen.h", "src/proto/kp_gen.c")
                     if not filecmp.cmp(os.path.join(tmp, rel), os.path.join(args.out, rel),
                                        shallow=False)]
        if stale:
            sys.exit("gen_proto: out of date: %s (rerun scripts/gen_proto.py)" % ", ".join(stale))
        print("gen_proto: generated files are up to date")
        return

    # Kafka's schema folder, plus the few layouts Strata describes itself (scripts/proto-schemas).
    extra = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proto-schemas")
    files = sorted(glob.glob(os.path.join(args.schemas, "*.json")) +
                   glob.glob(os.path.join(extra, "*.json")))
    if not files:
        sys.exit("no schema files in %s" % args.schemas)
    msgs = [Message(load_schema(p)) for p in files]
    # headers first, then by api key, request before response
    msgs.sort(key=lambda m: (m.api_key if m.api_key is not None else -1,
                             0 if m.kind in ("request", "header") and m.name.endswith("Request")
                             or m.name == "RequestHeader" else 1, m.name))
    by_key = {}
    for m in msgs:
        if m.api_key is None:
            continue
        base = re.sub(r"(Request|Response)$", "", m.name)
        e = by_key.setdefault(m.api_key, {"name": base, "kinds": set()})
        e["kinds"].add(m.kind)
        if m.kind == "request":
            e["valid"] = m.valid
            e["flex"] = -1 if m.flex.empty() else m.flex.lo
    apis = []
    for key in sorted(by_key):
        e = by_key[key]
        if e["kinds"] != {"request", "response"}:
            sys.exit("api key %d: need both request and response schemas" % key)
        apis.append((key, e["name"], e["valid"][0], e["valid"][1], e["flex"]))

    hdr = os.path.join(args.out, "include", "strata", "proto_gen.h")
    src = os.path.join(args.out, "src", "proto", "kp_gen.c")
    with open(hdr, "w", encoding="utf-8") as f:
        f.write(gen_header(msgs, apis))
    with open(src, "w", encoding="utf-8") as f:
        f.write(gen_source(msgs, apis))
    if not args.no_format:
        cf = shutil.which("clang-format") or shutil.which("clang-format-14")
        if cf:
            subprocess.check_call([cf, "-i", hdr, src], cwd=args.out)
        else:
            print("gen_proto: clang-format not found; outputs left unformatted", file=sys.stderr)
    print("gen_proto: %d messages, %d APIs -> %s, %s" % (len(msgs), len(apis), hdr, src))


if __name__ == "__main__":
    main()

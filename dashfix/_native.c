/*
 * dashfix's C helpers (loaded by dashfix/native.py), all on the hot path of stream log
 * validation:
 *   - scan_message, scan_block: read a DashStreamMessage straight from its wire bytes, and
 *     hand back what the sequence tracker needs only when the record is one the checks
 *     would find nothing in.  Anything unusual returns None, and the caller then runs the
 *     full Python path (the protobuf runtime and validate_frame), which says what is wrong.
 *   - split_kcat: the kcat records that lie whole in a chunk of a capture.
 *   - key_hashes, shares_any: the message_id hashes the two-process check compares.
 * Each has a Python twin that the tests hold to the same answers.
 *
 * Why C: the protobuf runtime builds a Python object for every sub-message it hands out,
 * and a record's checks read about twenty header fields (ten inner events in a batch).
 * Reading them from the bytes here is several times cheaper than parsing plus attribute
 * access.  dashfix.checks.stream.scan holds the same rules in Python, for installs without
 * a compiler, and the tests hold the two to the same answers.
 *
 * Accepting a record here must imply that the protobuf runtime parses it to the values
 * returned; the reverse is not needed.  So the walk is stricter than protobuf where that is
 * cheaper to get right: a known field with an unexpected wire type, a non-canonical varint,
 * a group, or nesting deeper than SCAN_MAX_DEPTH all return None.  Unknown fields are
 * skipped (protobuf keeps them), strings are checked as strict UTF-8 (proto3 requires it),
 * and every length is checked against the bytes left before it is used.
 *
 * The schema (field numbers and kinds of every message reachable from DashStreamMessage)
 * comes from the generated descriptors, through configure(); only the field numbers of the
 * envelope (spec section 1.6) are fixed here.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Field kinds, as scan.py numbers them. */
enum { KIND_UNKNOWN = 0, KIND_VARINT, KIND_FIXED64, KIND_FIXED32, KIND_STRING, KIND_BYTES,
       KIND_MESSAGE };

/* Wire-format facts of the envelope (spec section 1.6). */
#define WIRE_VARINT 0
#define WIRE_FIXED64 1
#define WIRE_LEN 2
#define WIRE_FIXED32 5
#define TAG(number, wire) (((uint64_t)(number) << 3) | (wire))
#define PAYLOAD_HEADER_TAG TAG(1, WIRE_LEN)      /* every payload's field 1 is its Header */
#define EVENT_TYPE_TAG TAG(2, WIRE_VARINT)       /* Event.event_type */
#define BATCH_EVENTS_TAG TAG(2, WIRE_LEN)        /* EventBatch.events */
#define ONEOF_EVENT 1
#define ONEOF_ERROR 7
#define ONEOF_EVENT_BATCH 8
#define ONEOF_LAST 9 /* legacy bare protobuf starts with the tag of oneof 1..9 */
#define MESSAGE_ID_BYTES 16
#define COMPRESSION_ZSTD 1
#define MAX_SCHEMA_VERSION 1
#define MAX_VARINT_BYTES 10
#define SCAN_MAX_DEPTH 64 /* below the protobuf runtime's 100 */
#define MAX_FIELD_NUMBER 64
#define MAX_EVENT_TYPES 32
#define MIN_RUN_ITEMS 2 /* one item is cheaper to observe as it is */
#define MAX_RUN_ITEMS 64 /* ids are compared pairwise */

typedef struct {
    unsigned char kind;
    unsigned char repeated;
    int sub; /* schema index of a message field */
} FieldSpec;

typedef struct {
    int max_number;
    FieldSpec fields[MAX_FIELD_NUMBER + 1];
} Schema;

static Schema *schemas = NULL;
static int root_schema = -1;
static int header_schema = -1;
static int event_schema = -1;

typedef struct {
    long types[MAX_EVENT_TYPES];
    Py_ssize_t count;
} EventTypes;

static EventTypes bail_types;    /* None: their text is checked on the slow path */
static EventTypes unusual_types; /* never part of a run */
static uint64_t run_payloads = 0; /* bit n set: oneof n may come back as a run or single */

typedef struct {
    int present;
    uint64_t sequence;
    int64_t timestamp_us;
    const uint8_t *message_id;
    Py_ssize_t message_id_len;
    const uint8_t *thread_id;
    Py_ssize_t thread_id_len;
    int32_t type;
    int32_t compression;
    uint32_t schema_version;
} Header;

typedef struct {
    Header header;
    int32_t event_type;
} Item;

typedef struct {
    Item *items;
    Py_ssize_t count;
    Py_ssize_t capacity;
    Item inline_items[16];
} Items;

/* A canonical varint of at most 64 bits: no trailing zero byte, no bits past 64. */
static inline int read_varint(const uint8_t **cursor, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *cursor;
    uint64_t value = 0;
    for (int i = 0; i < MAX_VARINT_BYTES; i++) {
        if (p >= end)
            return 0;
        uint8_t byte = *p++;
        value |= (uint64_t)(byte & 0x7F) << (7 * i);
        if (byte < 0x80) {
            if ((i > 0 && byte == 0) || (i == MAX_VARINT_BYTES - 1 && byte > 1))
                return 0;
            *cursor = p;
            *out = value;
            return 1;
        }
    }
    return 0;
}

/* The length of a length-delimited field, within the bytes left. */
static inline int read_length(const uint8_t **cursor, const uint8_t *end, uint64_t *length)
{
    return read_varint(cursor, end, length) && *length <= (uint64_t)(end - *cursor);
}

static int valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t word;
            memcpy(&word, s + i, 8);
            if (!(word & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80)
                return 0;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
                return 0;
            if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F))
                return 0; /* overlong, or a UTF-16 surrogate */
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
                (s[i + 3] & 0xC0) != 0x80)
                return 0;
            if ((c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
                return 0; /* overlong, or past U+10FFFF */
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

static int validate_message(int schema, const uint8_t *p, const uint8_t *end, int depth);

/* Check one field of message ``schema`` whose tag was just read, and step past it. */
static int skip_field(int schema, uint64_t tag, const uint8_t **cursor, const uint8_t *end,
                      int depth)
{
    uint64_t number = tag >> 3;
    if (number == 0 || number > 0x1FFFFFFF)
        return 0;
    const Schema *s = &schemas[schema];
    const FieldSpec *field = number <= (uint64_t)s->max_number ? &s->fields[number] : NULL;
    int kind = field ? field->kind : KIND_UNKNOWN;
    const uint8_t *p = *cursor;
    uint64_t value;
    switch (tag & 7) {
    case WIRE_VARINT:
        if (!read_varint(&p, end, &value) || (kind != KIND_UNKNOWN && kind != KIND_VARINT))
            return 0;
        break;
    case WIRE_FIXED64:
        if (end - p < 8 || (kind != KIND_UNKNOWN && kind != KIND_FIXED64))
            return 0;
        p += 8;
        break;
    case WIRE_FIXED32:
        if (end - p < 4 || (kind != KIND_UNKNOWN && kind != KIND_FIXED32))
            return 0;
        p += 4;
        break;
    case WIRE_LEN: {
        if (!read_length(&p, end, &value))
            return 0;
        const uint8_t *stop = p + value;
        switch (kind) {
        case KIND_UNKNOWN:
        case KIND_BYTES:
            break;
        case KIND_STRING:
            if (!valid_utf8(p, (size_t)value))
                return 0;
            break;
        case KIND_MESSAGE:
            if (!validate_message(field->sub, p, stop, depth + 1))
                return 0;
            break;
        case KIND_VARINT: /* packed repeated varints fill the length exactly */
            if (!field->repeated)
                return 0;
            while (p < stop)
                if (!read_varint(&p, stop, &value))
                    return 0;
            break;
        case KIND_FIXED64:
            if (!field->repeated || value % 8)
                return 0;
            break;
        case KIND_FIXED32:
            if (!field->repeated || value % 4)
                return 0;
            break;
        default:
            return 0;
        }
        p = stop;
        break;
    }
    default: /* groups, and the wire types 6 and 7 that do not exist */
        return 0;
    }
    *cursor = p;
    return 1;
}

static int validate_message(int schema, const uint8_t *p, const uint8_t *end, int depth)
{
    if (depth > SCAN_MAX_DEPTH)
        return 0;
    while (p < end) {
        uint64_t tag;
        if (!read_varint(&p, end, &tag) || !skip_field(schema, tag, &p, end, depth))
            return 0;
    }
    return 1;
}

/* Header fields, merged as protobuf merges a repeated sub-message: the last value wins. */
static int scan_header(const uint8_t *p, const uint8_t *end, int depth, Header *header)
{
    if (depth > SCAN_MAX_DEPTH)
        return 0;
    header->present = 1;
    while (p < end) {
        uint64_t tag, value;
        if (!read_varint(&p, end, &tag))
            return 0;
        switch (tag) {
        case TAG(1, WIRE_LEN): /* message_id */
            if (!read_length(&p, end, &value))
                return 0;
            header->message_id = p;
            header->message_id_len = (Py_ssize_t)value;
            p += value;
            break;
        case TAG(2, WIRE_VARINT): /* timestamp_us, int64 */
            if (!read_varint(&p, end, &value))
                return 0;
            header->timestamp_us = (int64_t)value;
            break;
        case TAG(4, WIRE_LEN): /* thread_id */
            if (!read_length(&p, end, &value) || !valid_utf8(p, (size_t)value))
                return 0;
            header->thread_id = p;
            header->thread_id_len = (Py_ssize_t)value;
            p += value;
            break;
        case TAG(5, WIRE_VARINT): /* sequence, uint64 */
            if (!read_varint(&p, end, &header->sequence))
                return 0;
            break;
        case TAG(6, WIRE_VARINT): /* type, an enum: int32 */
            if (!read_varint(&p, end, &value))
                return 0;
            header->type = (int32_t)value;
            break;
        case TAG(8, WIRE_VARINT): /* compression, an enum: int32 */
            if (!read_varint(&p, end, &value))
                return 0;
            header->compression = (int32_t)value;
            break;
        case TAG(9, WIRE_VARINT): /* schema_version, uint32 */
            if (!read_varint(&p, end, &value))
                return 0;
            header->schema_version = (uint32_t)value;
            break;
        default:
            if (!skip_field(header_schema, tag, &p, end, depth))
                return 0;
        }
    }
    return 1;
}

/* An Event (a payload, or an EventBatch's inner event) at nesting ``depth``. */
static int scan_event(const uint8_t *p, const uint8_t *end, int depth, Item *item)
{
    if (depth > SCAN_MAX_DEPTH)
        return 0;
    while (p < end) {
        uint64_t tag, value;
        if (!read_varint(&p, end, &tag))
            return 0;
        if (tag == PAYLOAD_HEADER_TAG) {
            if (!read_length(&p, end, &value) || !scan_header(p, p + value, depth + 1, &item->header))
                return 0;
            p += value;
        } else if (tag == EVENT_TYPE_TAG) {
            if (!read_varint(&p, end, &value))
                return 0;
            item->event_type = (int32_t)value;
        } else if (!skip_field(event_schema, tag, &p, end, depth)) {
            return 0;
        }
    }
    return 1;
}

static Item *new_item(Items *items)
{
    if (items->count == items->capacity) {
        Py_ssize_t capacity = items->capacity * 2;
        Item *grown;
        if (items->items == items->inline_items) {
            grown = PyMem_Malloc((size_t)capacity * sizeof(Item));
            if (grown)
                memcpy(grown, items->inline_items, sizeof(items->inline_items));
        } else {
            grown = PyMem_Realloc(items->items, (size_t)capacity * sizeof(Item));
        }
        if (!grown)
            return NULL;
        items->items = grown;
        items->capacity = capacity;
    }
    Item *item = &items->items[items->count++];
    memset(item, 0, sizeof(Item));
    return item;
}

/* The payload of oneof ``number``: its own header (into ``payload``), and for an
 * EventBatch each inner event (into ``items``).  -1 is a memory error. */
static int scan_payload(uint64_t number, int schema, const uint8_t *p, const uint8_t *end,
                        Item *payload, Items *items)
{
    const int depth = 2;
    while (p < end) {
        uint64_t tag, value;
        if (!read_varint(&p, end, &tag))
            return 0;
        if (tag == PAYLOAD_HEADER_TAG) {
            if (!read_length(&p, end, &value) ||
                !scan_header(p, p + value, depth + 1, &payload->header))
                return 0;
            p += value;
        } else if (number == ONEOF_EVENT && tag == EVENT_TYPE_TAG) {
            if (!read_varint(&p, end, &value))
                return 0;
            payload->event_type = (int32_t)value;
        } else if (number == ONEOF_EVENT_BATCH && tag == BATCH_EVENTS_TAG) {
            if (!read_length(&p, end, &value))
                return 0;
            Item *item = new_item(items);
            if (!item)
                return -1;
            if (!scan_event(p, p + value, depth + 1, item))
                return 0;
            p += value;
        } else if (!skip_field(schema, tag, &p, end, depth)) {
            return 0;
        }
    }
    return 1;
}

/* What validate_frame checks in every header the tracker takes. */
static int healthy_header(const Header *header, int compressed)
{
    return header->schema_version <= MAX_SCHEMA_VERSION &&
           (header->compression == COMPRESSION_ZSTD) == compressed &&
           header->message_id_len == MESSAGE_ID_BYTES && header->thread_id_len > 0;
}

static int contains(const EventTypes *set, int32_t event_type)
{
    for (Py_ssize_t i = 0; i < set->count; i++)
        if (set->types[i] == event_type)
            return 1;
    return 0;
}

/* scan.compact's test for a batch: its items continue one another, as a healthy thread's
 * do. */
static int is_run(uint64_t number, const Item *payload, const Item *items, Py_ssize_t count)
{
    if (!(run_payloads >> number & 1) || count < MIN_RUN_ITEMS || count > MAX_RUN_ITEMS ||
        payload->header.timestamp_us <= 0 || !items[0].header.sequence)
        return 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        const Header *header = &items[i].header;
        if (contains(&unusual_types, items[i].event_type) || header->timestamp_us <= 0)
            return 0;
        if (i == 0)
            continue;
        const Header *before = &items[i - 1].header;
        if (header->sequence != before->sequence + 1 ||
            header->timestamp_us < before->timestamp_us)
            return 0;
        for (Py_ssize_t j = 0; j < i; j++)
            if (!memcmp(items[j].header.message_id, header->message_id, MESSAGE_ID_BYTES))
                return 0;
    }
    return 1;
}

static void put_le64(uint8_t *out, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(value >> (8 * i));
}

static PyObject *build_run(uint64_t number, const Item *payload, const Item *items,
                           Py_ssize_t count)
{
    PyObject *ids = PyTuple_New(count);
    PyObject *fingerprints = PyTuple_New(count);
    PyObject *thread_id = NULL;
    if (!ids || !fingerprints)
        goto fail;
    for (Py_ssize_t i = 0; i < count; i++) {
        const Header *header = &items[i].header;
        uint8_t fingerprint[16];
        put_le64(fingerprint, header->sequence);
        put_le64(fingerprint + 8, (uint64_t)header->timestamp_us);
        PyObject *id = PyBytes_FromStringAndSize((const char *)header->message_id,
                                                 MESSAGE_ID_BYTES);
        if (!id)
            goto fail;
        PyTuple_SET_ITEM(ids, i, id);
        PyObject *print = PyBytes_FromStringAndSize((const char *)fingerprint, 16);
        if (!print)
            goto fail;
        PyTuple_SET_ITEM(fingerprints, i, print);
    }
    thread_id = PyUnicode_DecodeUTF8((const char *)payload->header.thread_id,
                                     payload->header.thread_id_len, "strict");
    if (!thread_id)
        goto fail;
    return Py_BuildValue("(KNLKKLLNN)", (unsigned long long)number, thread_id,
                         (long long)payload->header.timestamp_us,
                         (unsigned long long)items[0].header.sequence,
                         (unsigned long long)items[count - 1].header.sequence,
                         (long long)items[0].header.timestamp_us,
                         (long long)items[count - 1].header.timestamp_us, ids, fingerprints);
fail:
    Py_XDECREF(ids);
    Py_XDECREF(fingerprints);
    return NULL;
}

/* scan.compact's test for a payload that is one message (not a batch). */
static int is_single(uint64_t number, const Item *payload)
{
    return number != ONEOF_EVENT_BATCH && (run_payloads >> number & 1) &&
           payload->header.sequence && payload->header.timestamp_us > 0 &&
           !contains(&unusual_types, payload->event_type);
}

static PyObject *build_single(uint64_t number, const Item *payload)
{
    const Header *header = &payload->header;
    uint8_t fingerprint[16];
    put_le64(fingerprint, header->sequence);
    put_le64(fingerprint + 8, (uint64_t)header->timestamp_us);
    PyObject *thread_id = PyUnicode_DecodeUTF8((const char *)header->thread_id,
                                               header->thread_id_len, "strict");
    PyObject *id = PyBytes_FromStringAndSize((const char *)header->message_id,
                                             MESSAGE_ID_BYTES);
    PyObject *print = PyBytes_FromStringAndSize((const char *)fingerprint, 16);
    if (!thread_id || !id || !print) {
        Py_XDECREF(thread_id);
        Py_XDECREF(id);
        Py_XDECREF(print);
        return NULL;
    }
    return Py_BuildValue("(KNKLNN)", (unsigned long long)number, thread_id,
                         (unsigned long long)header->sequence, (long long)header->timestamp_us,
                         id, print);
}

static PyObject *item_tuple(const Item *item)
{
    PyObject *tuple = PyTuple_New(5);
    if (!tuple)
        return NULL;
    PyObject *sequence = PyLong_FromUnsignedLongLong(item->header.sequence);
    PyObject *stamp = PyLong_FromLongLong(item->header.timestamp_us);
    PyObject *message_id = PyBytes_FromStringAndSize((const char *)item->header.message_id,
                                                     item->header.message_id_len);
    PyObject *event_type = PyLong_FromLong(item->event_type);
    if (!sequence || !stamp || !message_id || !event_type) {
        Py_XDECREF(sequence);
        Py_XDECREF(stamp);
        Py_XDECREF(message_id);
        Py_XDECREF(event_type);
        Py_DECREF(tuple);
        return NULL;
    }
    PyTuple_SET_ITEM(tuple, 0, sequence);
    PyTuple_SET_ITEM(tuple, 1, stamp);
    PyTuple_SET_ITEM(tuple, 2, message_id);
    PyTuple_SET_ITEM(tuple, 3, event_type);
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(tuple, 4, Py_None);
    return tuple;
}

static PyObject *build_result(uint64_t number, const Item *payload, const Item *items,
                              Py_ssize_t count)
{
    PyObject *tuple = PyTuple_New(count);
    if (!tuple)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = item_tuple(&items[i]);
        if (!item) {
            Py_DECREF(tuple);
            return NULL;
        }
        PyTuple_SET_ITEM(tuple, i, item);
    }
    PyObject *thread_id = PyUnicode_DecodeUTF8((const char *)payload->header.thread_id,
                                               payload->header.thread_id_len, "strict");
    if (!thread_id) {
        Py_DECREF(tuple);
        return NULL;
    }
    PyObject *result = Py_BuildValue("(KNLN)", (unsigned long long)number, thread_id,
                                     (long long)payload->header.timestamp_us, tuple);
    return result;
}

/* The rules of scan.scan_message_python, on the bytes. */
static PyObject *scan_bytes(const uint8_t *p, const uint8_t *end, int compressed)
{
    uint64_t tag, length;
    if (!read_varint(&p, end, &tag) || (tag & 7) != WIRE_LEN)
        Py_RETURN_NONE;
    uint64_t number = tag >> 3;
    const Schema *root = &schemas[root_schema];
    if (number == 0 || number > (uint64_t)root->max_number ||
        root->fields[number].kind != KIND_MESSAGE || number == ONEOF_ERROR)
        Py_RETURN_NONE;
    /* exactly one top-level field: a second payload or an unknown field is a finding */
    if (!read_length(&p, end, &length) || p + length != end)
        Py_RETURN_NONE;

    Item payload;
    memset(&payload, 0, sizeof(payload));
    Items items = {.items = NULL, .count = 0, .capacity = 16};
    items.items = items.inline_items;
    PyObject *result = NULL;
    int scanned = scan_payload(number, root->fields[number].sub, p, end, &payload, &items);
    if (scanned < 0) {
        PyErr_NoMemory();
        goto done;
    }
    const Header *header = &payload.header;
    if (!scanned || !header->present || header->type != (int32_t)number ||
        !healthy_header(header, compressed) || contains(&bail_types, payload.event_type))
        goto none;
    if (number == ONEOF_EVENT_BATCH) {
        if (header->sequence != 0)
            goto none;
        for (Py_ssize_t i = 0; i < items.count; i++) {
            const Item *inner = &items.items[i];
            if (!inner->header.sequence || !healthy_header(&inner->header, compressed) ||
                contains(&bail_types, inner->event_type))
                goto none;
        }
        result = is_run(number, &payload, items.items, items.count)
                     ? build_run(number, &payload, items.items, items.count)
                     : build_result(number, &payload, items.items, items.count);
    } else {
        result = is_single(number, &payload) ? build_single(number, &payload)
                                             : build_result(number, &payload, &payload, 1);
    }
    goto done;
none:
    Py_INCREF(Py_None);
    result = Py_None;
done:
    if (items.items != items.inline_items)
        PyMem_Free(items.items);
    return result;
}

/* Whether a scan may start: its arguments have the right shape and configure() ran. */
static int ready(int shaped, const char *signature)
{
    if (!shaped) {
        PyErr_SetString(PyExc_TypeError, signature);
        return 0;
    }
    if (!schemas) {
        PyErr_SetString(PyExc_RuntimeError, "configure() was not called");
        return 0;
    }
    return 1;
}

static PyObject *scan_message(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (!ready(nargs == 3 && PyBytes_Check(args[0]),
               "scan_message(data: bytes, start: int, compressed: bool)"))
        return NULL;
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    if (start < 0 || start > size) {
        PyErr_SetString(PyExc_ValueError, "start is outside data");
        return NULL;
    }
    int compressed = PyObject_IsTrue(args[2]);
    if (compressed < 0)
        return NULL;
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(args[0]);
    return scan_bytes(data + start, data + size, compressed);
}

/* scan.scan_record's frame tests for one record value, then scan_bytes; None for a
 * zstd frame too, which the caller decompresses. */
static PyObject *scan_value(PyObject *value, Py_ssize_t cap, Py_ssize_t rules_from,
                            int unframed)
{
    if (!PyBytes_Check(value))
        Py_RETURN_NONE; /* a null record */
    Py_ssize_t size = PyBytes_GET_SIZE(value);
    if (size == 0 || size > cap || size > rules_from)
        Py_RETURN_NONE;
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(value);
    uint8_t first = data[0];
    if (first == 0x00)
        return scan_bytes(data + 1, data + size, 0);
    if (unframed && (first & 7) == WIRE_LEN && first >> 3 >= 1 && first >> 3 <= ONEOF_LAST)
        return scan_bytes(data, data + size, 0);
    Py_RETURN_NONE;
}

static PyObject *scan_block(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (!ready(nargs == 4 && PyList_Check(args[0]),
               "scan_block(records: list, cap: int, rules_from: int, unframed: bool)"))
        return NULL;
    Py_ssize_t cap = PyLong_AsSsize_t(args[1]);
    Py_ssize_t rules_from = PyLong_AsSsize_t(args[2]);
    int unframed = PyObject_IsTrue(args[3]);
    if (PyErr_Occurred() || unframed < 0)
        return NULL;
    PyObject *records = args[0];
    Py_ssize_t count = PyList_GET_SIZE(records);
    PyObject *scans = PyList_New(count);
    if (!scans)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *record = PyList_GET_ITEM(records, i);
        if (!PyTuple_Check(record) || PyTuple_GET_SIZE(record) != 3) {
            PyErr_SetString(PyExc_TypeError, "a record is an (index, offset, value) tuple");
            Py_DECREF(scans);
            return NULL;
        }
        PyObject *scanned = scan_value(PyTuple_GET_ITEM(record, 2), cap, rules_from, unframed);
        if (!scanned) {
            Py_DECREF(scans);
            return NULL;
        }
        PyList_SET_ITEM(scans, i, scanned);
    }
    return scans;
}

/* The hash of every key of the dicts in ``dicts``, as native int64 values: what the
 * tracker keeps of a window's message_ids (sequences.SequenceTracker._hash_ids). */
static PyObject *key_hashes(PyObject *module, PyObject *dicts)
{
    (void)module;
    if (!PyList_Check(dicts)) {
        PyErr_SetString(PyExc_TypeError, "key_hashes(dicts: list[dict])");
        return NULL;
    }
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(dicts); i++) {
        PyObject *dict = PyList_GET_ITEM(dicts, i);
        if (!PyDict_Check(dict)) {
            PyErr_SetString(PyExc_TypeError, "key_hashes(dicts: list[dict])");
            return NULL;
        }
        total += PyDict_GET_SIZE(dict);
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(int64_t));
    if (!out)
        return NULL;
    int64_t *hashes = (int64_t *)PyBytes_AS_STRING(out);
    Py_ssize_t filled = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(dicts); i++) {
        PyObject *dict = PyList_GET_ITEM(dicts, i);
        Py_ssize_t position = 0;
        PyObject *key, *value;
        while (filled < total && PyDict_Next(dict, &position, &key, &value)) {
            Py_hash_t hash = PyObject_Hash(key); /* cached by the dict's bytes keys */
            if (hash == -1 && PyErr_Occurred()) {
                Py_DECREF(out);
                return NULL;
            }
            hashes[filled++] = (int64_t)hash;
        }
    }
    return out;
}

/* Whether two buffers of int64 values have one in common: a hash table of the smaller. */
static PyObject *shares_any(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "shares_any(a, b): two int64 buffers");
        return NULL;
    }
    Py_buffer views[2];
    if (PyObject_GetBuffer(args[0], &views[0], PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &views[1], PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&views[0]);
        return NULL;
    }
    PyObject *result = NULL;
    int small = views[0].len <= views[1].len ? 0 : 1;
    Py_ssize_t n_small = views[small].len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t n_large = views[1 - small].len / (Py_ssize_t)sizeof(int64_t);
    const int64_t *a = views[small].buf, *b = views[1 - small].buf;
    if (n_small == 0) {
        result = Py_False;
        Py_INCREF(result);
        goto done;
    }
    size_t slots = 16;
    while (slots < (size_t)n_small * 2)
        slots *= 2;
    int64_t *table = PyMem_Malloc(slots * sizeof(int64_t));
    unsigned char *used = PyMem_Calloc(slots, 1);
    if (!table || !used) {
        PyMem_Free(table);
        PyMem_Free(used);
        PyErr_NoMemory();
        goto done;
    }
    const size_t mask = slots - 1;
    for (Py_ssize_t i = 0; i < n_small; i++) {
        size_t slot = ((uint64_t)a[i] * 0x9E3779B97F4A7C15ULL) >> 7 & mask;
        while (used[slot] && table[slot] != a[i])
            slot = (slot + 1) & mask;
        used[slot] = 1;
        table[slot] = a[i];
    }
    int found = 0;
    for (Py_ssize_t i = 0; i < n_large && !found; i++) {
        size_t slot = ((uint64_t)b[i] * 0x9E3779B97F4A7C15ULL) >> 7 & mask;
        while (used[slot]) {
            if (table[slot] == b[i]) {
                found = 1;
                break;
            }
            slot = (slot + 1) & mask;
        }
    }
    PyMem_Free(table);
    PyMem_Free(used);
    result = found ? Py_True : Py_False;
    Py_INCREF(result);
done:
    PyBuffer_Release(&views[0]);
    PyBuffer_Release(&views[1]);
    return result;
}

/* kcat.read_blocks' inner loop: append the records that lie whole in buffer[at:end] with a
 * length of -1 (null) or 0..cap to ``block`` as (index, offset, value) tuples, until it
 * holds ``most``; return where the first record not taken starts (the caller reads it). */
static PyObject *split_kcat(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 8 || !PyBytes_Check(args[0]) || !PyList_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError,
                        "split_kcat(buffer: bytes, at: int, end: int, cap: int, index: int, "
                        "offset: int, block: list, most: int)");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t at = PyLong_AsSsize_t(args[1]);
    Py_ssize_t end = PyLong_AsSsize_t(args[2]);
    long long cap = PyLong_AsLongLong(args[3]);
    long long index = PyLong_AsLongLong(args[4]);
    long long offset = PyLong_AsLongLong(args[5]);
    Py_ssize_t most = PyLong_AsSsize_t(args[7]);
    if (PyErr_Occurred())
        return NULL;
    if (at < 0 || end < at || end > size) {
        PyErr_SetString(PyExc_ValueError, "at..end is outside the buffer");
        return NULL;
    }
    PyObject *block = args[6];
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(args[0]);
    while (end - at >= 4 && PyList_GET_SIZE(block) < most) {
        const uint8_t *prefix = data + at;
        int32_t length = (int32_t)((uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16 |
                                   (uint32_t)prefix[2] << 8 | (uint32_t)prefix[3]);
        PyObject *value;
        if (length == -1) {
            value = Py_None;
            Py_INCREF(value);
            length = 0;
        } else if (length < 0 || length > cap || length > end - at - 4) {
            break;
        } else {
            value = PyBytes_FromStringAndSize((const char *)prefix + 4, length);
            if (!value)
                return NULL;
        }
        PyObject *record = Py_BuildValue("(LLN)", index, offset, value);
        if (!record || PyList_Append(block, record) < 0) {
            Py_XDECREF(record);
            return NULL;
        }
        Py_DECREF(record);
        at += 4 + (Py_ssize_t)length;
        offset += 4 + length;
        index += 1;
    }
    return PyLong_FromSsize_t(at);
}

static int schema_index(PyObject *value, Py_ssize_t count, int *out)
{
    long index = PyLong_AsLong(value);
    if (index == -1 && PyErr_Occurred())
        return 0;
    if (index < -1 || index >= count) {
        PyErr_SetString(PyExc_ValueError, "schema index out of range");
        return 0;
    }
    *out = (int)index;
    return 1;
}

static int read_event_types(PyObject *tuple, EventTypes *out)
{
    if (PyTuple_GET_SIZE(tuple) > MAX_EVENT_TYPES) {
        PyErr_SetString(PyExc_ValueError, "too many event types");
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple); i++) {
        out->types[i] = PyLong_AsLong(PyTuple_GET_ITEM(tuple, i));
        if (PyErr_Occurred())
            return 0;
    }
    out->count = PyTuple_GET_SIZE(tuple);
    return 1;
}

static PyObject *configure(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *tables, *bail, *unusual, *runs;
    int root, header, event;
    if (!PyArg_ParseTuple(args, "O!iiiO!O!O!", &PyTuple_Type, &tables, &root, &header, &event,
                          &PyTuple_Type, &bail, &PyTuple_Type, &unusual, &PyTuple_Type, &runs))
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(tables);
    if (root < 0 || root >= count || header < 0 || header >= count || event < 0 ||
        event >= count) {
        PyErr_SetString(PyExc_ValueError, "schema index out of range");
        return NULL;
    }
    EventTypes new_bail, new_unusual;
    if (!read_event_types(bail, &new_bail) || !read_event_types(unusual, &new_unusual))
        return NULL;
    uint64_t new_runs = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(runs); i++) {
        long number = PyLong_AsLong(PyTuple_GET_ITEM(runs, i));
        if (PyErr_Occurred())
            return NULL;
        if (number < 1 || number > 63) {
            PyErr_SetString(PyExc_ValueError, "run payload number out of range");
            return NULL;
        }
        new_runs |= (uint64_t)1 << number;
    }
    Schema *built = PyMem_Calloc((size_t)count, sizeof(Schema));
    if (!built)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *fields = PyTuple_GET_ITEM(tables, i);
        if (!PyTuple_Check(fields))
            goto bad;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(fields); j++) {
            PyObject *spec = PyTuple_GET_ITEM(fields, j);
            int sub;
            if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 4)
                goto bad;
            long number = PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
            long kind = PyLong_AsLong(PyTuple_GET_ITEM(spec, 1));
            int repeated = PyObject_IsTrue(PyTuple_GET_ITEM(spec, 2));
            if (PyErr_Occurred() || repeated < 0 ||
                !schema_index(PyTuple_GET_ITEM(spec, 3), count, &sub))
                goto bad;
            if (number < 1 || number > MAX_FIELD_NUMBER || kind < KIND_VARINT ||
                kind > KIND_MESSAGE || (kind == KIND_MESSAGE && sub < 0))
                goto bad;
            built[i].fields[number] =
                (FieldSpec){(unsigned char)kind, (unsigned char)repeated, sub};
            if (number > built[i].max_number)
                built[i].max_number = (int)number;
        }
    }
    PyMem_Free(schemas);
    schemas = built;
    root_schema = root;
    header_schema = header;
    event_schema = event;
    bail_types = new_bail;
    unusual_types = new_unusual;
    run_payloads = new_runs;
    Py_RETURN_NONE;
bad:
    PyMem_Free(built);
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "malformed schema table");
    return NULL;
}

/* ---- the sequence tracker's common case, and zstd frames --------------------------------
 *
 * take_common: sequences.take_common_python in C.  For each scan from ``start`` on, while it
 * is a Single or a Run (scan.compact) that continues its thread as a healthy thread goes on
 * (the next sequence, on time, ids new to both dedup windows, room left in DEDUP_WINDOW),
 * it updates the thread's summary and dedup dict exactly as the Python twin does; it stops
 * at the first other scan, which SequenceTracker.observe_block hands to the general path.
 * The tracker's state stays in its Python objects (ThreadSummary, the seen/previous dicts),
 * so everything else (windows, absorb, findings) is untouched.  The summary's fields are
 * read and written through their slots (the member descriptors' offsets, taken once by
 * track_configure); a thread of another type, an unset slot or a value outside int64 stops
 * the walk, and the Python path takes that scan.
 *
 * scan_zstd: scan.scan_record's zstd branch for the records scan_block left as None: the
 * frame header and block walk of frame.zstd_frame_info, the size tests of guarded_decompress
 * and scan_record before decompressing, python-zstandard's decompress (passed in), then
 * scan_bytes.  Any doubt leaves the None, and scan_record (then validate_frame) says why.
 */
#include <structmember.h>

enum { SLOT_MESSAGES, SLOT_SEQUENCED, SLOT_EXPECTED, SLOT_LAST_SEQUENCE, SLOT_LAST_ORDERED_US,
       SLOT_FIRST_TIMESTAMP_US, SLOT_LAST_TIMESTAMP_US, SLOT_SEEN, SLOT_PREVIOUS, SLOT_COUNT };
static const char *const slot_names[SLOT_COUNT] = {
    "messages", "sequenced", "expected", "last_sequence", "last_ordered_us",
    "first_timestamp_us", "last_timestamp_us", "seen", "previous"};
static Py_ssize_t slot_offsets[SLOT_COUNT];
static PyTypeObject *summary_type = NULL;

#define SLOT(object, which) (*(PyObject **)((char *)(object) + slot_offsets[which]))

/* A window's id filter: a bytearray of FILTER_BYTES, two bits per message_id put in the
 * threads' ``seen`` dicts (from the id's hash), so that most ids are known absent from the
 * previous window's dicts without a lookup (each is a cache miss or two).  None: no filter
 * (look the id up).  Python hands them over (SequenceTracker._seen_filter, _previous_filter)
 * and sets the bits of the ids its general path puts in ``seen`` (filter_add). */
#define FILTER_BITS ((Py_hash_t)1 << 21)
#define FILTER_BYTES (FILTER_BITS / 8)

static int filter_buffer(PyObject *filter, uint8_t **bits)
{
    if (filter == Py_None) {
        *bits = NULL;
        return 1;
    }
    if (!PyByteArray_CheckExact(filter) || PyByteArray_GET_SIZE(filter) != FILTER_BYTES) {
        PyErr_SetString(PyExc_TypeError, "an id filter is None or a bytearray of FILTER_BYTES");
        return 0;
    }
    *bits = (uint8_t *)PyByteArray_AS_STRING(filter);
    return 1;
}

static inline Py_hash_t filter_bit(Py_hash_t hash, int which)
{
    uint64_t h = (uint64_t)hash;
    return (Py_hash_t)((which ? h >> 32 ^ h >> 43 : h) & (uint64_t)(FILTER_BITS - 1));
}

static inline void filter_set(uint8_t *bits, Py_hash_t hash)
{
    for (int which = 0; which < 2; which++) {
        Py_hash_t bit = filter_bit(hash, which);
        bits[bit >> 3] |= (uint8_t)(1u << (bit & 7));
    }
}

/* 0 when ``id`` is surely not among the ids the filter holds; 1 when it may be; -1 on an
 * error. */
static int filter_may_hold(const uint8_t *bits, PyObject *id)
{
    if (!bits)
        return 1;
    Py_hash_t hash = PyObject_Hash(id);
    if (hash == -1)
        return -1;
    for (int which = 0; which < 2; which++) {
        Py_hash_t bit = filter_bit(hash, which);
        if (!(bits[bit >> 3] >> (bit & 7) & 1))
            return 0;
    }
    return 1;
}

/* The id was put in a ``seen`` dict: its bits go in the window's filter. */
static int filter_note(uint8_t *bits, PyObject *id)
{
    if (!bits)
        return 1;
    Py_hash_t hash = PyObject_Hash(id);
    if (hash == -1)
        return 0;
    filter_set(bits, hash);
    return 1;
}

/* new_filter() -> an empty id filter. */
static PyObject *new_filter(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    PyObject *filter = PyByteArray_FromStringAndSize(NULL, FILTER_BYTES);
    if (filter)
        memset(PyByteArray_AS_STRING(filter), 0, FILTER_BYTES);
    return filter;
}

/* filter_add(filter, message_id): the general path put message_id in a ``seen`` dict. */
static PyObject *filter_add(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    uint8_t *bits;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "filter_add(filter, message_id)");
        return NULL;
    }
    if (!filter_buffer(args[0], &bits) || !filter_note(bits, args[1]))
        return NULL;
    Py_RETURN_NONE;
}

/* track_configure(ThreadSummary): where the slots the common case uses lie. */
static PyObject *track_configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 1 || !PyType_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "track_configure(summary_type)");
        return NULL;
    }
    Py_ssize_t offsets[SLOT_COUNT];
    for (int i = 0; i < SLOT_COUNT; i++) {
        PyObject *descr = PyObject_GetAttrString(args[0], slot_names[i]);
        if (!descr)
            return NULL;
        int usable = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                     ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX &&
                     !(((PyMemberDescrObject *)descr)->d_member->flags & READONLY);
        if (usable)
            offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
        if (!usable) {
            PyErr_Format(PyExc_ValueError, "%s is not a writable slot", slot_names[i]);
            return NULL;
        }
    }
    memcpy(slot_offsets, offsets, sizeof(offsets));
    Py_INCREF(args[0]);
    Py_XSETREF(summary_type, (PyTypeObject *)args[0]);
    Py_RETURN_NONE;
}

/* An int slot or tuple member as int64; 0 when it is not an int or lies outside int64. */
static int as_int64(PyObject *value, long long *out)
{
    if (!value || !PyLong_CheckExact(value))
        return 0;
    int overflow;
    *out = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow || (*out == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

static void set_slot(PyObject *thread, int which, PyObject *value)
{
    PyObject **slot = &SLOT(thread, which);
    PyObject *old = *slot;
    *slot = value;
    Py_XDECREF(old);
}

/* ``slot += count``; 0 on a memory error, or an unset or non-int slot (checked before). */
static int add_to_slot(PyObject *thread, int which, long long count)
{
    long long value;
    if (!as_int64(SLOT(thread, which), &value) || value > LLONG_MAX - count)
        return 0;
    PyObject *sum = PyLong_FromLongLong(value + count);
    if (!sum)
        return 0;
    set_slot(thread, which, sum);
    return 1;
}

/* ThreadSummary.goes_on(count, last, last_us), plus ``extra`` messages (a batch itself). */
static int goes_on(PyObject *thread, long long count, long long extra, PyObject *last,
                   PyObject *last_us)
{
    PyObject *one = PyLong_FromLong(1);
    PyObject *expected = one ? PyNumber_Add(last, one) : NULL;
    Py_XDECREF(one);
    if (!expected)
        return 0;
    if (!add_to_slot(thread, SLOT_MESSAGES, count + extra) ||
        !add_to_slot(thread, SLOT_SEQUENCED, count)) {
        Py_DECREF(expected);
        return 0;
    }
    Py_INCREF(last_us);
    set_slot(thread, SLOT_LAST_TIMESTAMP_US, last_us);
    set_slot(thread, SLOT_EXPECTED, expected);
    Py_INCREF(last);
    set_slot(thread, SLOT_LAST_SEQUENCE, last);
    Py_INCREF(last_us);
    set_slot(thread, SLOT_LAST_ORDERED_US, last_us);
    return 1;
}

/* The thread a scan continues, when its summary is one whose slots the walk may use (every
 * slot set, the counters ints in int64, the dedup dicts dicts); NULL otherwise, or on an
 * error (then PyErr_Occurred).  Thread ids are str, message_ids bytes, sequences int (each
 * exactly that type), so that no Python code runs during the walk: the borrowed summary
 * and dicts stay as they are. */
static PyObject *usable_thread(PyObject *threads, PyObject *thread_id)
{
    if (!PyUnicode_CheckExact(thread_id))
        return NULL;
    PyObject *thread = PyDict_GetItemWithError(threads, thread_id);
    if (!thread || !Py_IS_TYPE(thread, summary_type))
        return NULL;
    for (int i = 0; i < SLOT_COUNT; i++)
        if (!SLOT(thread, i))
            return NULL;
    long long ignored;
    if (!as_int64(SLOT(thread, SLOT_MESSAGES), &ignored) ||
        !as_int64(SLOT(thread, SLOT_SEQUENCED), &ignored) ||
        !PyLong_CheckExact(SLOT(thread, SLOT_EXPECTED)) ||
        !PyDict_CheckExact(SLOT(thread, SLOT_SEEN)) ||
        !PyDict_CheckExact(SLOT(thread, SLOT_PREVIOUS)))
        return NULL;
    return thread;
}

/* 1: the Single was taken; 0: it is not the common case (nothing changed); -1: an error. */
static int take_single(PyObject *threads, PyObject *scanned, long long future,
                       long long window, long long *remembered, uint8_t *seen_bits,
                       const uint8_t *previous_bits)
{
    PyObject *sequence = PyTuple_GET_ITEM(scanned, 2);
    PyObject *stamp_object = PyTuple_GET_ITEM(scanned, 3);
    PyObject *message_id = PyTuple_GET_ITEM(scanned, 4);
    PyObject *fingerprint = PyTuple_GET_ITEM(scanned, 5);
    if (!PyLong_CheckExact(sequence) || !PyBytes_CheckExact(message_id))
        return 0;
    PyObject *thread = usable_thread(threads, PyTuple_GET_ITEM(scanned, 1));
    if (!thread)
        return PyErr_Occurred() ? -1 : 0;
    long long stamp, last_ordered;
    if (!as_int64(stamp_object, &stamp) ||
        !as_int64(SLOT(thread, SLOT_LAST_ORDERED_US), &last_ordered))
        return 0;
    int next = PyObject_RichCompareBool(sequence, SLOT(thread, SLOT_EXPECTED), Py_EQ);
    if (next <= 0)
        return next;
    if (!(stamp <= future && last_ordered <= stamp &&
          SLOT(thread, SLOT_FIRST_TIMESTAMP_US) != Py_None && *remembered < window))
        return 0;
    PyObject *previous = SLOT(thread, SLOT_PREVIOUS);
    int known = PyDict_GET_SIZE(previous) ? filter_may_hold(previous_bits, message_id) : 0;
    if (known > 0)
        known = PyDict_Contains(previous, message_id);
    if (known != 0)
        return known < 0 ? -1 : 0;
    PyObject *kept = PyDict_SetDefault(SLOT(thread, SLOT_SEEN), message_id, fingerprint);
    if (!kept)
        return -1;
    if (kept != fingerprint)
        return 0;
    if (!filter_note(seen_bits, message_id))
        return -1;
    if (!goes_on(thread, 1, 0, sequence, stamp_object))
        return -1;
    *remembered += 1;
    return 1;
}

/* take_single for a Run. */
static int take_run(PyObject *threads, PyObject *scanned, long long future,
                    long long window, long long *remembered, uint8_t *seen_bits,
                    const uint8_t *previous_bits)
{
    PyObject *ids = PyTuple_GET_ITEM(scanned, 7);
    PyObject *fingerprints = PyTuple_GET_ITEM(scanned, 8);
    if (!PyTuple_CheckExact(ids) || !PyTuple_CheckExact(fingerprints) ||
        PyTuple_GET_SIZE(ids) != PyTuple_GET_SIZE(fingerprints) ||
        !PyLong_CheckExact(PyTuple_GET_ITEM(scanned, 3)))
        return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(ids); i++)
        if (!PyBytes_CheckExact(PyTuple_GET_ITEM(ids, i)))
            return 0;
    PyObject *thread = usable_thread(threads, PyTuple_GET_ITEM(scanned, 1));
    if (!thread)
        return PyErr_Occurred() ? -1 : 0;
    long long timestamp_us, first_us, last_us, last_ordered;
    Py_ssize_t count = PyTuple_GET_SIZE(ids);
    if (!as_int64(PyTuple_GET_ITEM(scanned, 2), &timestamp_us) ||
        !as_int64(PyTuple_GET_ITEM(scanned, 5), &first_us) ||
        !as_int64(PyTuple_GET_ITEM(scanned, 6), &last_us) ||
        !as_int64(SLOT(thread, SLOT_LAST_ORDERED_US), &last_ordered))
        return 0;
    int next = PyObject_RichCompareBool(PyTuple_GET_ITEM(scanned, 3),
                                        SLOT(thread, SLOT_EXPECTED), Py_EQ);
    if (next <= 0)
        return next;
    if (!(last_us <= future && last_ordered <= first_us &&
          SLOT(thread, SLOT_FIRST_TIMESTAMP_US) != Py_None && timestamp_us <= future &&
          *remembered + count <= window))
        return 0;
    PyObject *seen = SLOT(thread, SLOT_SEEN);
    PyObject *previous = SLOT(thread, SLOT_PREVIOUS);
    if (PyDict_GET_SIZE(previous))
        for (Py_ssize_t i = 0; i < count; i++) {
            int known = filter_may_hold(previous_bits, PyTuple_GET_ITEM(ids, i));
            if (known > 0)
                known = PyDict_Contains(previous, PyTuple_GET_ITEM(ids, i));
            if (known != 0)
                return known < 0 ? -1 : 0;
        }
    /* One lookup per id instead of a test and an insertion: on an id already seen, the ids
     * put before it are taken out again (a run's ids are distinct), and nothing changed. */
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *fingerprint = PyTuple_GET_ITEM(fingerprints, i);
        PyObject *kept = PyDict_SetDefault(seen, PyTuple_GET_ITEM(ids, i), fingerprint);
        if (!kept)
            return -1;
        if (kept != fingerprint) {
            while (i-- > 0)
                if (PyDict_DelItem(seen, PyTuple_GET_ITEM(ids, i)))
                    return -1;
            return 0;
        }
    }
    for (Py_ssize_t i = 0; i < count; i++)
        if (!filter_note(seen_bits, PyTuple_GET_ITEM(ids, i)))
            return -1;
    if (!goes_on(thread, count, 1, PyTuple_GET_ITEM(scanned, 4), PyTuple_GET_ITEM(scanned, 6)))
        return -1;
    *remembered += count;
    return 1;
}

/* take_common(threads, scans, start, future_us, remembered, dedup_window, seen_filter,
 *             previous_filter) -> (stop, remembered) */
static PyObject *take_common(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 8 || !PyDict_CheckExact(args[0]) || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "take_common(threads: dict, scans: list, start, "
                                         "future_us, remembered, dedup_window, seen_filter, "
                                         "previous_filter)");
        return NULL;
    }
    if (!summary_type) {
        PyErr_SetString(PyExc_RuntimeError, "track_configure() was not called");
        return NULL;
    }
    Py_ssize_t at = PyLong_AsSsize_t(args[2]);
    long long future = PyLong_AsLongLong(args[3]);
    long long remembered = PyLong_AsLongLong(args[4]);
    long long window = PyLong_AsLongLong(args[5]);
    uint8_t *seen_bits, *previous_bits;
    if (PyErr_Occurred() || !filter_buffer(args[6], &seen_bits) ||
        !filter_buffer(args[7], &previous_bits))
        return NULL;
    if (at < 0) {
        PyErr_SetString(PyExc_ValueError, "start is negative");
        return NULL;
    }
    PyObject *threads = args[0], *scans = args[1];
    for (; at < PyList_GET_SIZE(scans); at++) {
        PyObject *scanned = PyList_GET_ITEM(scans, at);
        if (!PyTuple_CheckExact(scanned))
            break;
        int taken;
        if (PyTuple_GET_SIZE(scanned) == 6)
            taken = take_single(threads, scanned, future, window, &remembered, seen_bits,
                                previous_bits);
        else if (PyTuple_GET_SIZE(scanned) == 9)
            taken = take_run(threads, scanned, future, window, &remembered, seen_bits,
                             previous_bits);
        else
            break;
        if (taken < 0)
            return NULL;
        if (!taken)
            break;
    }
    return Py_BuildValue("(nL)", at, remembered);
}

#define ZSTD_BLOCK_RLE 1
#define ZSTD_BLOCK_RESERVED 3

/* frame.zstd_frame_info's answer when it is a frame of exactly ``size`` bytes that
 * declares its content size: 1 and the size, else 0. */
static int zstd_declared_size(const uint8_t *data, Py_ssize_t size, uint64_t *content_size)
{
    static const int fcs_bytes[4] = {0, 2, 4, 8};
    static const int dict_id_bytes[4] = {0, 1, 2, 4};
    if (size < 6 || memcmp(data, "\x28\xb5\x2f\xfd", 4) != 0)
        return 0;
    uint8_t descriptor = data[4];
    int single_segment = descriptor >> 5 & 1;
    if (descriptor & 0x08)
        return 0;
    Py_ssize_t pos = 5 + (single_segment ? 0 : 1) + dict_id_bytes[descriptor & 3];
    int fcs_size = fcs_bytes[descriptor >> 6];
    if (!fcs_size && single_segment)
        fcs_size = 1;
    if (!fcs_size || pos + fcs_size > size)
        return 0;
    uint64_t declared = 0;
    for (int i = 0; i < fcs_size; i++)
        declared |= (uint64_t)data[pos + i] << (8 * i);
    if (fcs_size == 2)
        declared += 256;
    pos += fcs_size;
    for (;;) {
        if (size - pos < 3)
            return 0;
        uint32_t header = data[pos] | (uint32_t)data[pos + 1] << 8 | (uint32_t)data[pos + 2] << 16;
        uint32_t block_type = header >> 1 & 3;
        if (block_type == ZSTD_BLOCK_RESERVED)
            return 0;
        Py_ssize_t block_bytes = block_type == ZSTD_BLOCK_RLE ? 1 : (Py_ssize_t)(header >> 3);
        if (size - pos - 3 < block_bytes)
            return 0;
        pos += 3 + block_bytes;
        if (header & 1)
            break;
    }
    if (descriptor >> 2 & 1)
        pos += 4;
    if (pos != size)
        return 0;
    *content_size = declared;
    return 1;
}

/* scan_record's zstd branch for one value; None when any test fails, NULL on an error. */
static PyObject *scan_zstd_value(PyObject *value, Py_ssize_t limit, Py_ssize_t cap,
                                 Py_ssize_t rules_from, Py_ssize_t threshold,
                                 PyObject *decompress, PyObject *zstd_error)
{
    if (!PyBytes_Check(value))
        Py_RETURN_NONE;
    Py_ssize_t size = PyBytes_GET_SIZE(value);
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(value);
    uint64_t declared;
    if (size < 2 || size > cap || size > rules_from || data[0] != 0x01 ||
        !zstd_declared_size(data + 1, size - 1, &declared) || declared > (uint64_t)limit ||
        declared <= (uint64_t)(size - 1) || declared <= (uint64_t)threshold ||
        declared > (uint64_t)rules_from)
        Py_RETURN_NONE;
    PyObject *frame = PyMemoryView_FromMemory((char *)data + 1, size - 1, PyBUF_READ);
    if (!frame)
        return NULL;
    PyObject *out = PyObject_CallOneArg(decompress, frame);
    Py_DECREF(frame);
    if (!out) {
        if (!PyErr_ExceptionMatches(zstd_error))
            return NULL;
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *scanned;
    if (!PyBytes_Check(out) || (uint64_t)PyBytes_GET_SIZE(out) != declared) {
        Py_INCREF(Py_None);
        scanned = Py_None;
    } else {
        const uint8_t *content = (const uint8_t *)PyBytes_AS_STRING(out);
        scanned = scan_bytes(content, content + PyBytes_GET_SIZE(out), 1);
    }
    Py_DECREF(out);
    return scanned;
}

/* scan_zstd(records, scans, limit, unframed, rules_from, threshold, decompress, zstd_error):
 * fills in place the Nones of ``scans`` whose record is a zstd frame scan_record reads. */
static PyObject *scan_zstd(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (!ready(nargs == 8 && PyList_Check(args[0]) && PyList_Check(args[1]) &&
                   PyList_GET_SIZE(args[0]) == PyList_GET_SIZE(args[1]),
               "scan_zstd(records: list, scans: list of the same length, limit: int, "
               "unframed: bool, rules_from: int, threshold: int, decompress, zstd_error)"))
        return NULL;
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    int unframed = PyObject_IsTrue(args[3]);
    Py_ssize_t rules_from = PyLong_AsSsize_t(args[4]);
    Py_ssize_t threshold = PyLong_AsSsize_t(args[5]);
    if (PyErr_Occurred() || unframed < 0)
        return NULL;
    if (limit < 0) {
        PyErr_SetString(PyExc_ValueError, "limit is negative");
        return NULL;
    }
    Py_ssize_t cap = unframed || limit == PY_SSIZE_T_MAX ? limit : limit + 1;
    PyObject *records = args[0], *scans = args[1];
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(scans); i++) {
        if (PyList_GET_ITEM(scans, i) != Py_None)
            continue;
        PyObject *record = PyList_GET_ITEM(records, i);
        if (!PyTuple_Check(record) || PyTuple_GET_SIZE(record) != 3) {
            PyErr_SetString(PyExc_TypeError, "a record is an (index, offset, value) tuple");
            return NULL;
        }
        PyObject *scanned = scan_zstd_value(PyTuple_GET_ITEM(record, 2), limit, cap,
                                            rules_from, threshold, args[6], args[7]);
        if (!scanned)
            return NULL;
        PyObject *old = PyList_GET_ITEM(scans, i);
        PyList_SET_ITEM(scans, i, scanned);
        Py_DECREF(old);
    }
    Py_RETURN_NONE;
}

/* ---- end of the tracker's common case and zstd frames ---------------------------------- */

/* ---- checkpoint store reading ---------------------------------------------------------
 *
 * read_checkpoints: for a span of listed names of one store folder, each file opened once
 * (openat, O_NOFOLLOW | O_NONBLOCK), fstat-ed once and read once; the DCHK header and the
 * CRC-32 checked, and the bincode ids and the payload tail (node, timestamp, parent, empty
 * metadata) read with every length checked against the bytes left.  A file comes back as a
 * row only when checkpoint_files/variants.py's _summarise_plain_dchk makes it a PLAIN row
 * (its Python twin, which the tests hold to the same answers) and, stricter, when its id is
 * of the current scheme with the thread's own prefix, its parent starts with the thread's
 * prefix and its name is the id plus ".bin".  Anything else (another variant, a damaged
 * header, a short read, not a regular file, a zero-filled file...) is left to the Python
 * path, which reports it.  The files are read with the GIL released, so two threads read two
 * spans at once; the columns are then filled in place.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DCHK_HEADER 20
#define DCHK_VERSION 1
#define TAIL_MIN 29       /* node len (8) + timestamp (12) + option tag (1) + map count (8) */
#define NODE_MAX 255      /* formats/checkpoint.py NODE_MAX_LEN */
#define PARENT_MAX 251    /* formats/checkpoint.py ID_MAX_LEN */
#define NANOS_PER_SEC 1000000000u
#define COUNTER_MAX_DIGITS 18 /* fits an int64 column */
#define PROC_MIN 5
#define PROC_MAX 16
#define ROW_PLAIN 0
#define NO_PARENT_ROW (-1)
#define LOST_PARENT_ROW (-2)
#define READ_BUFFER_KEEP (1 << 20) /* a larger buffer is freed after its file */

/* CRC-32/ISO-HDLC (zlib's crc32, crc32fast), slice-by-8. */
static uint32_t crc_table[8][256];

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][n] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int n = 0; n < 256; n++)
            crc_table[t][n] = (crc_table[t - 1][n] >> 8) ^ crc_table[0][crc_table[t - 1][n] & 0xFF];
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint32_t low, high;
        memcpy(&low, p, 4);
        memcpy(&high, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        low = __builtin_bswap32(low);
        high = __builtin_bswap32(high);
#endif
        low ^= c;
        c = crc_table[7][low & 0xFF] ^ crc_table[6][(low >> 8) & 0xFF] ^
            crc_table[5][(low >> 16) & 0xFF] ^ crc_table[4][low >> 24] ^
            crc_table[3][high & 0xFF] ^ crc_table[2][(high >> 8) & 0xFF] ^
            crc_table[1][(high >> 16) & 0xFF] ^ crc_table[0][high >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static inline uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A string's place: offset and length in a row's copy of its bytes. */
typedef struct {
    uint32_t at, len;
} Span;

/* What one healthy file gives, before Python objects are made of it. */
typedef struct {
    int ok, has_parent;
    int64_t counter, secs, nanos, mtime_ns, size, state_start, state_end, mode;
    Span thread, node, proc, parent; /* into the call's arena */
} CheckpointRow;

typedef struct {
    uint8_t *data;
    size_t len, cap;
} Arena;

static int arena_put(Arena *arena, const uint8_t *bytes, size_t n, Span *out)
{
    if (n > UINT32_MAX || arena->len + n > UINT32_MAX)
        return 0;
    if (arena->len + n > arena->cap) {
        size_t cap = arena->cap ? arena->cap : 4096;
        while (cap < arena->len + n)
            cap *= 2;
        uint8_t *grown = realloc(arena->data, cap);
        if (!grown)
            return 0;
        arena->data = grown;
        arena->cap = cap;
    }
    memcpy(arena->data + arena->len, bytes, n);
    out->at = (uint32_t)arena->len;
    out->len = (uint32_t)n;
    arena->len += n;
    return 1;
}

/* formats/checkpoint.py _nul_free_string_ending_at on payload ``p``: the one ``u64 len +
 * text`` field without NUL that ends at ``end``, starting at or after ``floor``.  Returns its
 * start, or -1. */
static int64_t nul_free_string_ending_at(const uint8_t *p, int64_t end, int64_t floor,
                                         int64_t max_len)
{
    int64_t lo = end - 8 - max_len > floor ? end - 8 - max_len : floor;
    int64_t last_zero = -1;
    for (int64_t i = end - 1; i >= lo; i--) {
        if (p[i] == 0) {
            last_zero = i;
            break;
        }
    }
    if (last_zero < 0)
        return -1;
    int64_t start = last_zero - 7;
    if (start < floor || le64(p + start) != (uint64_t)(end - start - 8))
        return -1;
    if (!valid_utf8(p + start + 8, (size_t)(end - start - 8)))
        return -1;
    return start;
}

static int path_safe(const uint8_t *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == 0 || c == '/' || c == '\\' || c == ':' || (c == '.' && i + 1 < n && s[i + 1] == '.'))
            return 0;
    }
    return 1;
}

typedef struct {
    uint64_t min_secs, max_secs;
} TimeRules;

/* The row of one file's bytes (the whole file, ``size`` bytes), or 0.  ``name`` must be
 * the id plus ".bin". */
static int parse_checkpoint(const uint8_t *data, int64_t size, const char *name,
                            Py_ssize_t name_len, const TimeRules *rules, Arena *arena,
                            CheckpointRow *row)
{
    if (size < DCHK_HEADER + 16 || memcmp(data, "DCHK", 4) != 0 ||
        le32(data + 4) != DCHK_VERSION || le64(data + 12) != (uint64_t)(size - DCHK_HEADER) ||
        crc32_of(data + DCHK_HEADER, (size_t)(size - DCHK_HEADER)) != le32(data + 8))
        return 0;
    const uint8_t *p = data + DCHK_HEADER; /* the payload */
    int64_t end = size - DCHK_HEADER;
    uint64_t id_len = le64(p);
    if (id_len > (uint64_t)(end - 16))
        return 0;
    int64_t id_at = 8, id_end = 8 + (int64_t)id_len;
    uint64_t thread_len = le64(p + id_end);
    if (thread_len > (uint64_t)(end - id_end - 8))
        return 0;
    int64_t thread_at = id_end + 8, floor = thread_at + (int64_t)thread_len;
    const uint8_t *id = p + id_at, *thread = p + thread_at;
    if (!valid_utf8(id, id_len) || !valid_utf8(thread, thread_len))
        return 0;
    /* formats/checkpoint.py empty_metadata_tails: empty metadata after a parent.  After a
     * zero byte only a parent None can end there (a Some would be an empty parent, which
     * the rules refuse for a current-scheme id); after any other byte only a Some. */
    if (end - floor < TAIL_MIN)
        return 0;
    for (int i = 1; i <= 8; i++)
        if (p[end - i] != 0)
            return 0;
    int64_t metadata_at = end - 8, tag_at;
    const uint8_t *parent = NULL;
    size_t parent_len = 0;
    if (p[end - 9] == 0) {
        tag_at = end - 9;
    } else {
        int64_t parent_start = nul_free_string_ending_at(p, metadata_at, floor + 21, PARENT_MAX);
        if (parent_start < 0 || p[parent_start - 1] != 1)
            return 0;
        parent = p + parent_start + 8;
        parent_len = (size_t)(metadata_at - parent_start - 8);
        /* parent_ok: with the thread's prefix (anything else goes to the Python rules). */
        if (parent_len <= thread_len || memcmp(parent, thread, thread_len) != 0 ||
            parent[thread_len] != '_')
            return 0;
        tag_at = parent_start - 1;
    }
    int64_t timestamp_at = tag_at - 12;
    if (timestamp_at - 8 < floor)
        return 0;
    uint64_t secs = le64(p + timestamp_at);
    uint32_t nanos = le32(p + timestamp_at + 8);
    if (nanos >= NANOS_PER_SEC || secs < rules->min_secs || secs >= rules->max_secs)
        return 0;
    int64_t node_start = nul_free_string_ending_at(p, timestamp_at, floor, NODE_MAX);
    if (node_start < 0)
        return 0;
    /* The id: {thread}_{proc}_chkpt{digits}, proc 5-16 lowercase hex digits, in a file
     * named after it, thread and id safe as file names (identity_flags finds nothing). */
    if ((uint64_t)name_len != id_len + 4 || memcmp(name, id, id_len) != 0 ||
        memcmp(name + id_len, ".bin", 4) != 0 || !path_safe(thread, thread_len) ||
        !path_safe(id, id_len))
        return 0;
    size_t digits = 0;
    while (digits < id_len && id[id_len - 1 - digits] >= '0' && id[id_len - 1 - digits] <= '9')
        digits++;
    size_t head_len = id_len - digits;
    if (digits == 0 || digits > COUNTER_MAX_DIGITS || head_len < thread_len + 1 + PROC_MIN + 6 ||
        memcmp(id + head_len - 6, "_chkpt", 6) != 0)
        return 0;
    size_t proc_end = head_len - 6, proc_at = thread_len + 1;
    if (memcmp(id, thread, thread_len) != 0 || id[thread_len] != '_' ||
        proc_end - proc_at < PROC_MIN || proc_end - proc_at > PROC_MAX)
        return 0;
    for (size_t i = proc_at; i < proc_end; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    int64_t counter = 0;
    for (size_t i = head_len; i < id_len; i++)
        counter = counter * 10 + (id[i] - '0');
    row->counter = counter;
    row->secs = (int64_t)secs;
    row->nanos = nanos;
    row->state_start = floor;
    row->state_end = node_start;
    row->has_parent = parent != NULL;
    return arena_put(arena, thread, thread_len, &row->thread) &&
           arena_put(arena, p + node_start + 8, (size_t)(timestamp_at - node_start - 8),
                     &row->node) &&
           arena_put(arena, id + proc_at, proc_end - proc_at, &row->proc) &&
           (!parent || arena_put(arena, parent, parent_len, &row->parent));
}

typedef struct {
    uint8_t *data;
    size_t cap;
} ReadBuffer;

/* Open, fstat and read ``name`` once; the row when it is a healthy plain checkpoint. */
static void read_checkpoint(int dir_fd, const char *name, Py_ssize_t name_len,
                            int64_t max_bytes, const TimeRules *rules, ReadBuffer *buffer,
                            Arena *arena, CheckpointRow *row)
{
    row->ok = 0;
    int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return;
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || info.st_size > max_bytes ||
        info.st_size < DCHK_HEADER + 16)
        goto done;
    size_t want = (size_t)info.st_size + 1; /* one more byte sees EOF, or growth */
    if (want > buffer->cap) {
        uint8_t *grown = realloc(buffer->data, want);
        if (!grown)
            goto done;
        buffer->data = grown;
        buffer->cap = want;
    }
    ssize_t got;
    do {
        got = read(fd, buffer->data, want);
    } while (got < 0 && errno == EINTR);
    if (got != (ssize_t)info.st_size)
        goto done;
    size_t arena_mark = arena->len;
    if (parse_checkpoint(buffer->data, info.st_size, name, name_len, rules, arena, row)) {
        row->ok = 1;
        row->size = info.st_size;
        row->mtime_ns = (int64_t)info.st_mtim.tv_sec * 1000000000 + info.st_mtim.tv_nsec;
        row->mode = (int64_t)info.st_mode;
    } else {
        arena->len = arena_mark;
    }
done:
    close(fd);
    if (buffer->cap > READ_BUFFER_KEEP) {
        free(buffer->data);
        buffer->data = NULL;
        buffer->cap = 0;
    }
}

/* The Python string of ``span`` in the arena, the previous row's object when the bytes are
 * the same (rows come by name, so a thread's files, its node and process, follow one
 * another), interned otherwise. */
typedef struct {
    PyObject *object;
    const uint8_t *bytes;
    uint32_t len;
} LastString;

static PyObject *shared_string(const Arena *arena, Span span, LastString *last)
{
    const uint8_t *bytes = arena->data + span.at;
    if (last->object && last->len == span.len && memcmp(last->bytes, bytes, span.len) == 0) {
        Py_INCREF(last->object);
        return last->object;
    }
    PyObject *text = PyUnicode_DecodeUTF8((const char *)bytes, span.len, NULL);
    if (!text)
        return NULL;
    PyUnicode_InternInPlace(&text);
    Py_XDECREF(last->object);
    Py_INCREF(text);
    last->object = text;
    last->bytes = bytes;
    last->len = span.len;
    return text;
}

enum { COL_KINDS, COL_THREADS, COL_NODES, COL_PROCS, COL_COUNTERS, COL_SECS, COL_NANOS,
       COL_MTIMES, COL_SIZES, COL_STATE_STARTS, COL_STATE_ENDS, COL_PARENT_ROWS,
       COL_LOST_PARENTS, COL_MODES, COLUMNS };
#define NUMBER_COLUMNS 8 /* counters .. parent_rows */

/* The row table of dashfix/native.py (see "Issue 11 at 1,000,000 files"). */
static Py_ssize_t table_find(const uint64_t *slots, size_t capacity, PyObject *names,
                             const char *key, Py_ssize_t len);

/* Where read_checkpoints finds a parent's row: ``row_of``, a dict of names to rows (the
 * twin's), or the slots of native.row_table over ``names``. */
typedef struct {
    PyObject *dict;
    const uint64_t *slots;
    size_t capacity;
    PyObject *names;
} RowLookup;

/* The row of the file "{parent}.bin", or LOST_PARENT_ROW (-1 on an error).  The row before
 * (``before``, named ``before_name``, or -1) is tried first: with counters in the ids, the
 * parent of "..._chkpt101" is "..._chkpt100", the name just before it in a sorted listing,
 * nine times in ten (a folder holds no two entries of one name, so it is that row). */
static int parent_row(const RowLookup *row_of, const Arena *arena, Span parent,
                      Py_ssize_t before, const char *before_name, Py_ssize_t before_len,
                      Py_ssize_t *out)
{
    char small[PARENT_MAX + 16]; /* nul_free_string_ending_at allows up to max_len + 7 */
    if (parent.len > PARENT_MAX + 7) {
        PyErr_SetString(PyExc_SystemError, "read_checkpoints: parent longer than its search");
        return -1;
    }
    memcpy(small, arena->data + parent.at, parent.len);
    memcpy(small + parent.len, ".bin", 4);
    if (before >= 0 && before_name && before_len == (Py_ssize_t)parent.len + 4 &&
        memcmp(before_name, small, (size_t)before_len) == 0) {
        *out = before;
        return 0;
    }
    if (!row_of->dict) {
        Py_ssize_t row = table_find(row_of->slots, row_of->capacity, row_of->names, small,
                                    parent.len + 4);
        *out = row < 0 ? LOST_PARENT_ROW : row;
        return 0;
    }
    PyObject *name = PyUnicode_DecodeUTF8(small, parent.len + 4, NULL);
    if (!name)
        return -1;
    PyObject *row = PyDict_GetItemWithError(row_of->dict, name);
    Py_DECREF(name);
    if (!row) {
        if (PyErr_Occurred())
            return -1;
        *out = LOST_PARENT_ROW;
        return 0;
    }
    *out = PyLong_AsSsize_t(row);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *read_checkpoints(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    long dir_fd;
    Py_ssize_t start, stop;
    long long max_bytes, min_secs, max_secs;
    if (nargs != 9 || !PyList_Check(args[1]) || !(PyDict_Check(args[4]) || PyBytes_Check(args[4])) ||
        !PyTuple_Check(args[5]) || PyTuple_GET_SIZE(args[5]) != COLUMNS) {
        PyErr_SetString(PyExc_TypeError,
                        "read_checkpoints(dir_fd, names, start, stop, row_of, columns, "
                        "max_bytes, min_secs, max_secs)");
        return NULL;
    }
    PyObject *modes_column = PyTuple_GET_ITEM(args[5], COL_MODES);
    dir_fd = PyLong_AsLong(args[0]);
    start = PyLong_AsSsize_t(args[2]);
    stop = PyLong_AsSsize_t(args[3]);
    max_bytes = PyLong_AsLongLong(args[6]);
    min_secs = PyLong_AsLongLong(args[7]);
    max_secs = PyLong_AsLongLong(args[8]);
    if (PyErr_Occurred())
        return NULL;
    PyObject *names = args[1], *columns = args[5];
    RowLookup row_of = {args[4], NULL, 0, names};
    if (PyBytes_Check(args[4])) {
        size_t capacity = (size_t)PyBytes_GET_SIZE(args[4]) / sizeof(uint64_t);
        if (capacity < 8 || (capacity & (capacity - 1))) {
            PyErr_SetString(PyExc_ValueError, "read_checkpoints: row_of is not a row table");
            return NULL;
        }
        row_of = (RowLookup){NULL, (const uint64_t *)PyBytes_AS_STRING(args[4]), capacity, names};
    }
    if (dir_fd < 0 || dir_fd > INT32_MAX || start < 0 || stop > PyList_GET_SIZE(names) ||
        start > stop || min_secs < 0 ||
        max_secs < min_secs) {
        PyErr_SetString(PyExc_ValueError, "read_checkpoints: bad span or rules");
        return NULL;
    }
    PyObject *kinds = PyTuple_GET_ITEM(columns, COL_KINDS);
    PyObject *lists[3] = {PyTuple_GET_ITEM(columns, COL_THREADS),
                          PyTuple_GET_ITEM(columns, COL_NODES),
                          PyTuple_GET_ITEM(columns, COL_PROCS)};
    PyObject *lost = PyTuple_GET_ITEM(columns, COL_LOST_PARENTS);
    if (!PyByteArray_Check(kinds) || !PyDict_Check(lost)) {
        PyErr_SetString(PyExc_TypeError, "read_checkpoints: bad columns");
        return NULL;
    }
    for (int i = 0; i < 3; i++) {
        if (!PyList_Check(lists[i]) || PyList_GET_SIZE(lists[i]) < stop) {
            PyErr_SetString(PyExc_TypeError, "read_checkpoints: bad string column");
            return NULL;
        }
    }
    if (PyByteArray_GET_SIZE(kinds) < stop) {
        PyErr_SetString(PyExc_ValueError, "read_checkpoints: columns too short");
        return NULL;
    }
    Py_ssize_t count = stop - start;
    Py_buffer numbers[NUMBER_COLUMNS], modes = {0};
    int held = 0, modes_held = 0;
    const char **name_bytes = NULL;
    Py_ssize_t *name_lens = NULL;
    CheckpointRow *rows = NULL;
    Arena arena = {NULL, 0, 0};
    ReadBuffer buffer = {NULL, 0};
    LastString last[3] = {{NULL, NULL, 0}, {NULL, NULL, 0}, {NULL, NULL, 0}};
    PyObject *left = NULL;
    for (; held < NUMBER_COLUMNS; held++) {
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(columns, COL_COUNTERS + held), &numbers[held],
                               PyBUF_WRITABLE | PyBUF_FORMAT) != 0)
            goto fail;
        if (numbers[held].itemsize != 8 || numbers[held].len / 8 < stop ||
            !numbers[held].format || strcmp(numbers[held].format, "q") != 0) {
            PyBuffer_Release(&numbers[held]);
            PyErr_SetString(PyExc_TypeError, "read_checkpoints: number columns are array('q')");
            goto fail;
        }
    }
    if (modes_column != Py_None) {
        if (PyObject_GetBuffer(modes_column, &modes, PyBUF_WRITABLE | PyBUF_FORMAT) != 0)
            goto fail;
        modes_held = 1;
        if (modes.itemsize != 4 || modes.len / 4 < stop || !modes.format ||
            strcmp(modes.format, "i") != 0) {
            PyErr_SetString(PyExc_TypeError, "read_checkpoints: modes are array('i') or None");
            goto fail;
        }
    }
    name_bytes = PyMem_Malloc(sizeof(*name_bytes) * (size_t)(count ? count : 1));
    name_lens = PyMem_Malloc(sizeof(*name_lens) * (size_t)(count ? count : 1));
    rows = PyMem_Calloc((size_t)(count ? count : 1), sizeof(*rows));
    left = PyList_New(0);
    if (!name_bytes || !name_lens || !rows || !left) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyList_GET_ITEM(names, start + i);
        name_bytes[i] = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &name_lens[i])
                                              : NULL;
        if (!name_bytes[i])
            PyErr_Clear(); /* not UTF-8 (surrogate escapes): the Python path reads it */
    }
    TimeRules rules = {(uint64_t)min_secs, (uint64_t)max_secs};
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        if (name_bytes[i] && strlen(name_bytes[i]) == (size_t)name_lens[i])
            read_checkpoint((int)dir_fd, name_bytes[i], name_lens[i], max_bytes, &rules, &buffer,
                            &arena, &rows[i]);
    }
    Py_END_ALLOW_THREADS
    int64_t *number[NUMBER_COLUMNS];
    for (int c = 0; c < NUMBER_COLUMNS; c++)
        number[c] = numbers[c].buf;
    char *kind = PyByteArray_AS_STRING(kinds);
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t at = start + i;
        const CheckpointRow *row = &rows[i];
        if (!row->ok) {
            PyObject *index = PyLong_FromSsize_t(at);
            if (!index || PyList_Append(left, index) != 0) {
                Py_XDECREF(index);
                goto fail;
            }
            Py_DECREF(index);
            continue;
        }
        Py_ssize_t parent = NO_PARENT_ROW;
        if (row->has_parent &&
            parent_row(&row_of, &arena, row->parent, i > 0 ? at - 1 : -1,
                       i > 0 ? name_bytes[i - 1] : NULL, i > 0 ? name_lens[i - 1] : 0,
                       &parent) != 0)
            goto fail;
        Span spans[3] = {row->thread, row->node, row->proc};
        for (int c = 0; c < 3; c++) {
            PyObject *text = shared_string(&arena, spans[c], &last[c]);
            if (!text)
                goto fail;
            PyObject *old = PyList_GET_ITEM(lists[c], at);
            PyList_SET_ITEM(lists[c], at, text);
            Py_XDECREF(old);
        }
        if (parent == LOST_PARENT_ROW) {
            PyObject *key = PyLong_FromSsize_t(at);
            PyObject *text = PyUnicode_DecodeUTF8((const char *)arena.data + row->parent.at,
                                                  row->parent.len, NULL);
            int failed = !key || !text || PyDict_SetItem(lost, key, text) != 0;
            Py_XDECREF(key);
            Py_XDECREF(text);
            if (failed)
                goto fail;
        }
        const int64_t values[NUMBER_COLUMNS] = {row->counter, row->secs, row->nanos,
                                                row->mtime_ns, row->size, row->state_start,
                                                row->state_end, parent};
        for (int c = 0; c < NUMBER_COLUMNS; c++)
            number[c][at] = values[c];
        if (modes_held)
            ((int32_t *)modes.buf)[at] = (int32_t)row->mode;
        kind[at] = ROW_PLAIN;
    }
    goto done;
fail:
    Py_CLEAR(left);
done:
    for (int c = 0; c < 3; c++)
        Py_XDECREF(last[c].object);
    for (int c = 0; c < held; c++)
        PyBuffer_Release(&numbers[c]);
    if (modes_held)
        PyBuffer_Release(&modes);
    PyMem_Free(name_bytes);
    PyMem_Free(name_lens);
    PyMem_Free(rows);
    free(arena.data);
    free(buffer.data);
    return left;
}

/* stat_keys: (size, mtime_ns, mode) of names[start:stop] in folder dir_fd, symlinks not
 * followed, as native int64 triples; (-1, -1, -1) where fstatat fails.  The GIL is released,
 * so two threads stat two halves at once (the stat walk of a cached re-run). */
static PyObject *stat_keys(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "stat_keys(dir_fd, names, start, stop)");
        return NULL;
    }
    long dir_fd = PyLong_AsLong(args[0]);
    Py_ssize_t start = PyLong_AsSsize_t(args[2]), stop = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred())
        return NULL;
    PyObject *names = args[1];
    if (dir_fd < 0 || dir_fd > INT32_MAX || start < 0 || stop > PyList_GET_SIZE(names) ||
        start > stop) {
        PyErr_SetString(PyExc_ValueError, "stat_keys: bad folder or span");
        return NULL;
    }
    Py_ssize_t count = stop - start;
    PyObject *out = PyBytes_FromStringAndSize(NULL, count * 3 * (Py_ssize_t)sizeof(int64_t));
    const char **paths = PyMem_Malloc(sizeof(*paths) * (size_t)(count ? count : 1));
    if (!out || !paths) {
        Py_XDECREF(out);
        PyMem_Free(paths);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyList_GET_ITEM(names, start + i);
        Py_ssize_t length = 0;
        paths[i] = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &length) : NULL;
        if (!paths[i] || strlen(paths[i]) != (size_t)length) {
            Py_DECREF(out);
            PyMem_Free(paths);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "stat_keys: a name holds a NUL");
            return NULL; /* the caller's Python twin handles names that are not UTF-8 */
        }
    }
    int64_t *keys = (int64_t *)PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        struct stat info;
        int64_t *key = keys + 3 * i;
        if (fstatat((int)dir_fd, paths[i], &info, AT_SYMLINK_NOFOLLOW) == 0) {
            key[0] = (int64_t)info.st_size;
            key[1] = (int64_t)info.st_mtim.tv_sec * 1000000000 + info.st_mtim.tv_nsec;
            key[2] = (int64_t)info.st_mode;
        } else {
            key[0] = key[1] = key[2] = -1;
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(paths);
    return out;
}

/* =========================================================================================
 * Issue 11 at 1,000,000 files: listing a store folder (list_folder, list_sampled), the
 * name -> row table (row_table, table_row), the xxh3 hash they share (xxh3_64), and the
 * healthy case of the counter-order check (counter_order_pass).
 *
 * Everything here runs on one core before or around the parallel reading, once per name:
 *   - list_folder: one readdir pass, the regular files' names sorted as bytes by a
 *     most-significant-digit sort of 8-byte keys (a store's names share a ~35-byte prefix,
 *     read 8 bytes per step, not one byte per step or per comparison);
 *   - list_sampled: the same pass for ``--sample`` without a cache: the bucket of each plain
 *     ``*.bin`` name is computed from its bytes during the listing, and only the names in the
 *     sample become Python strings (dashfix/sampling.py's rule, python-xxhash's xxh3_64);
 *   - row_table: the name -> row table of a store's rows as an open-addressing table of
 *     8-byte slots (xxh3 of the name's UTF-8 bytes), 16 bytes a name where a dict of
 *     names to int objects takes ~70; the C reader looks parents up in it from their bytes;
 *   - counter_order_pass: which (thread, process) groups have times going back along their
 *     counters (chains._counter_order reads only those).
 * Python twins: dashfix/native.py (os.scandir and sort, Sample.select, a dict) and
 * chains._counter_order itself; the tests (tests/inputs/test_native_listing.py,
 * tests/checks/test_lineage.py) hold each to its twin's answers.
 * ========================================================================================= */

/* xxh3_64 with seed 0 and the default secret, written from the XXH3 specification
 * (xxHash's doc/xxhash_spec.md): the value of python-xxhash's xxh3_64_intdigest. */
static const uint8_t XXH3_SECRET[192] = {
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
};
#define XXH_PRIME32_1 0x9E3779B1ULL
#define XXH_PRIME32_2 0x85EBCA77ULL
#define XXH_PRIME32_3 0xC2B2AE3DULL
#define XXH_PRIME64_1 0x9E3779B185EBCA87ULL
#define XXH_PRIME64_2 0xC2B2AE3D27D4EB4FULL
#define XXH_PRIME64_3 0x165667B19E3779F9ULL
#define XXH_PRIME64_4 0x85EBCA77C2B2AE63ULL
#define XXH_PRIME64_5 0x27D4EB2F165667C5ULL
#define XXH_PRIME_MX1 0x165667919E3779F9ULL
#define XXH_PRIME_MX2 0x9FB21C651E98DF25ULL
#define XXH_STRIPE 64
#define XXH_BLOCK 1024 /* 16 stripes of the default secret */

static inline uint64_t xxh_avalanche(uint64_t x)
{
    x ^= x >> 37;
    x *= XXH_PRIME_MX1;
    return x ^ (x >> 32);
}

static inline uint64_t xxh64_avalanche(uint64_t x)
{
    x ^= x >> 33;
    x *= XXH_PRIME64_2;
    x ^= x >> 29;
    x *= XXH_PRIME64_3;
    return x ^ (x >> 32);
}

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t bswap_64(uint64_t x)
{
    uint64_t out = 0;
    for (int i = 0; i < 8; i++, x >>= 8)
        out = (out << 8) | (x & 0xff);
    return out;
}

/* The 128-bit product of a and b, its halves xor-ed. */
static inline uint64_t mul_fold(uint64_t a, uint64_t b)
{
    __uint128_t product = (__uint128_t)a * b;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
}

static inline uint64_t mix16(const uint8_t *data, const uint8_t *secret)
{
    return mul_fold(le64(data) ^ le64(secret), le64(data + 8) ^ le64(secret + 8));
}

static void xxh_accumulate(uint64_t acc[8], const uint8_t *stripe, const uint8_t *secret)
{
    for (int i = 0; i < 8; i++) {
        uint64_t data = le64(stripe + 8 * i), key = data ^ le64(secret + 8 * i);
        acc[i ^ 1] += data;
        acc[i] += (key & 0xFFFFFFFFULL) * (key >> 32);
    }
}

static uint64_t xxh3_long(const uint8_t *p, size_t n)
{
    uint64_t acc[8] = {XXH_PRIME32_3, XXH_PRIME64_1, XXH_PRIME64_2, XXH_PRIME64_3,
                       XXH_PRIME64_4, XXH_PRIME32_2, XXH_PRIME64_5, XXH_PRIME32_1};
    size_t blocks = (n - 1) / XXH_BLOCK;
    for (size_t b = 0; b < blocks; b++) {
        for (size_t s = 0; s < XXH_BLOCK / XXH_STRIPE; s++)
            xxh_accumulate(acc, p + b * XXH_BLOCK + s * XXH_STRIPE, XXH3_SECRET + s * 8);
        for (int i = 0; i < 8; i++) { /* scramble */
            acc[i] ^= acc[i] >> 47;
            acc[i] ^= le64(XXH3_SECRET + sizeof(XXH3_SECRET) - XXH_STRIPE + 8 * i);
            acc[i] *= XXH_PRIME32_1;
        }
    }
    size_t stripes = ((n - 1) - XXH_BLOCK * blocks) / XXH_STRIPE;
    for (size_t s = 0; s < stripes; s++)
        xxh_accumulate(acc, p + blocks * XXH_BLOCK + s * XXH_STRIPE, XXH3_SECRET + s * 8);
    xxh_accumulate(acc, p + n - XXH_STRIPE, XXH3_SECRET + sizeof(XXH3_SECRET) - XXH_STRIPE - 7);
    uint64_t result = (uint64_t)n * XXH_PRIME64_1;
    for (int i = 0; i < 4; i++)
        result += mul_fold(acc[2 * i] ^ le64(XXH3_SECRET + 11 + 16 * i),
                           acc[2 * i + 1] ^ le64(XXH3_SECRET + 11 + 16 * i + 8));
    return xxh_avalanche(result);
}

static uint64_t xxh3_64(const uint8_t *p, size_t n)
{
    const uint8_t *s = XXH3_SECRET;
    if (n == 0)
        return xxh64_avalanche(le64(s + 56) ^ le64(s + 64));
    if (n <= 3) {
        uint32_t combined = (uint32_t)p[n - 1] | ((uint32_t)n << 8) | ((uint32_t)p[0] << 16) |
                            ((uint32_t)p[n >> 1] << 24);
        return xxh64_avalanche((uint64_t)(le32(s) ^ le32(s + 4)) ^ combined);
    }
    if (n <= 8) {
        uint64_t combined = (uint64_t)le32(p + n - 4) | ((uint64_t)le32(p) << 32);
        uint64_t value = (le64(s + 8) ^ le64(s + 16)) ^ combined;
        value ^= rotl64(value, 49) ^ rotl64(value, 24);
        value *= XXH_PRIME_MX2;
        value ^= (value >> 35) + n;
        value *= XXH_PRIME_MX2;
        return value ^ (value >> 28);
    }
    if (n <= 16) {
        uint64_t low = (le64(s + 24) ^ le64(s + 32)) ^ le64(p);
        uint64_t high = (le64(s + 40) ^ le64(s + 48)) ^ le64(p + n - 8);
        return xxh_avalanche(n + bswap_64(low) + high + mul_fold(low, high));
    }
    uint64_t acc = (uint64_t)n * XXH_PRIME64_1;
    if (n <= 128) {
        for (size_t i = 0; i < ((n - 1) >> 5) + 1; i++)
            acc += mix16(p + 16 * i, s + 32 * i) + mix16(p + n - 16 * i - 16, s + 32 * i + 16);
        return xxh_avalanche(acc);
    }
    if (n <= 240) {
        for (size_t i = 0; i < 8; i++)
            acc += mix16(p + 16 * i, s + 16 * i);
        acc = xxh_avalanche(acc);
        for (size_t i = 8; i < n / 16; i++)
            acc += mix16(p + 16 * i, s + 16 * (i - 8) + 3);
        acc += mix16(p + n - 16, s + 136 - 17);
        return xxh_avalanche(acc);
    }
    return xxh3_long(p, n);
}

/* xxh3_64(data) -> int: for the tests, which hold it to python-xxhash's. */
static PyObject *xxh3_64_of(PyObject *module, PyObject *data)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) != 0)
        return NULL;
    uint64_t hash = xxh3_64(view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong(hash);
}

/* The names of a listing: NUL-terminated, one after another in an arena that only grows
 * while the folder is read; a list holds their offsets, and once the arena no longer
 * moves, their addresses. */
typedef struct {
    char *data;
    size_t len, cap;
} NameArena;

typedef struct {
    size_t *at;
    size_t count, cap;
} NameList;

static int name_put(NameArena *arena, NameList *list, const char *name, size_t n)
{
    if (arena->len + n + 1 > arena->cap) {
        size_t cap = arena->cap ? arena->cap : (1 << 16);
        while (arena->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(arena->data, cap);
        if (!grown)
            return -1;
        arena->data = grown;
        arena->cap = cap;
    }
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 1024;
        size_t *grown = realloc(list->at, cap * sizeof(*grown));
        if (!grown)
            return -1;
        list->at = grown;
        list->cap = cap;
    }
    memcpy(arena->data + arena->len, name, n + 1);
    list->at[list->count++] = arena->len;
    arena->len += n + 1;
    return 0;
}

static void names_to_addresses(const NameArena *arena, NameList *list)
{
    for (size_t i = 0; i < list->count; i++)
        list->at[i] = (size_t)(uintptr_t)(arena->data + list->at[i]);
}

/* The sort: a name's next 8 bytes from ``depth`` as one big-endian number (zeros past its
 * end, so a prefix sorts first, as in strcmp), the names sorted by that number, and each
 * run of equal numbers that does not end a name sorted again 8 bytes deeper.  Each name's
 * bytes are read 8 at a time, once per level; the numbers sort in one array. */
typedef struct {
    uint64_t key;
    const char *name;
} Keyed;

static inline uint64_t key_at(const char *name, size_t depth)
{
    const unsigned char *p = (const unsigned char *)name + depth;
    uint64_t key = 0;
    int i = 0;
    for (; i < 8 && p[i]; i++)
        key = (key << 8) | p[i];
    return i == 0 ? 0 : key << (8 * (8 - i));
}

static int by_key(const void *a, const void *b)
{
    uint64_t x = ((const Keyed *)a)->key, y = ((const Keyed *)b)->key;
    return (x > y) - (x < y);
}

static inline void swap_keyed(Keyed *a, size_t i, size_t j)
{
    Keyed t = a[i];
    a[i] = a[j];
    a[j] = t;
}

/* Three-way quicksort by key; past ``budget`` nested partitions (hostile names), qsort. */
static void sort_by_key(Keyed *a, size_t n, int budget)
{
    while (n > 16) {
        if (budget-- <= 0) {
            qsort(a, n, sizeof(*a), by_key);
            return;
        }
        uint64_t x = a[0].key, y = a[n / 2].key, z = a[n - 1].key;
        uint64_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t lt = 0, i = 0, gt = n;
        while (i < gt) {
            if (a[i].key < pivot)
                swap_keyed(a, lt++, i++);
            else if (a[i].key > pivot)
                swap_keyed(a, i, --gt);
            else
                i++;
        }
        if (lt < n - gt) { /* the smaller side recursively, the larger in this loop */
            sort_by_key(a, lt, budget);
            a += gt;
            n -= gt;
        } else {
            sort_by_key(a + gt, n - gt, budget);
            n = lt;
        }
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && a[j - 1].key > a[j].key; j--)
            swap_keyed(a, j - 1, j);
}

#if defined(__GNUC__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)0)
#endif
#define PREFETCH_AHEAD 16 /* names whose bytes are asked for before they are read */

/* Sort names equal in their first ``depth`` bytes (none ends before).  Below the first
 * level the names lie all over the arena: their bytes are fetched ahead, so the memory
 * waits overlap. */
static void sort_keyed(Keyed *a, size_t n, size_t depth)
{
    if (n < 2)
        return;
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n)
            PREFETCH(a[i + PREFETCH_AHEAD].name + depth);
        a[i].key = key_at(a[i].name, depth);
    }
    sort_by_key(a, n, 64);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && a[j].key == a[i].key)
            j++;
        if (j - i > 1 && (a[i].key & 0xff)) /* all 8 bytes are the names' own: go deeper */
            sort_keyed(a + i, j - i, depth + 8);
        i = j;
    }
}

/* Sort the addresses in ``list`` by their names' bytes; -1 when out of memory. */
static int sort_names(NameList *list)
{
    if (list->count < 2)
        return 0;
    Keyed *keyed = malloc(list->count * sizeof(*keyed));
    if (!keyed)
        return -1;
    for (size_t i = 0; i < list->count; i++)
        keyed[i].name = (const char *)(uintptr_t)list->at[i];
    sort_keyed(keyed, list->count, 0);
    for (size_t i = 0; i < list->count; i++)
        list->at[i] = (size_t)(uintptr_t)keyed[i].name;
    free(keyed);
    return 0;
}

/* Which plain names list_sampled keeps: ``xxh3_64(name) % of`` below ``part`` (``P%``) or
 * equal to ``part - 1`` (``N/M``).  A plain name ends in ".bin", not in ".v.bin", and is
 * not "index.bin" (native.py: ``sampled_by_name``, which the scan otherwise applies). */
typedef struct {
    uint64_t part, of;
    int percent;
} SampleRule;

static int is_plain_name(const char *name, size_t n)
{
    return n >= 4 && memcmp(name + n - 4, ".bin", 4) == 0 &&
           !(n >= 6 && memcmp(name + n - 6, ".v.bin", 6) == 0) && strcmp(name, "index.bin") != 0;
}

/* One readdir pass over dir_fd: regular files into ``regular`` (with a rule: plain names
 * in the sample into ``picked``, the others left out and counted in ``dropped``), every
 * other entry into ``others``.  0, an errno value, or -1 (a name is not UTF-8) or -2 (out
 * of memory).  Runs without the GIL. */
static int read_folder(int dir_fd, NameArena *arena, NameList *regular, NameList *others,
                       const SampleRule *rule, NameList *picked, size_t *dropped)
{
    /* A descriptor of its own: readdir moves its offset, and closedir closes it. */
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *folder = fd < 0 ? NULL : fdopendir(fd);
    if (!folder) {
        int error = errno;
        if (fd >= 0)
            close(fd);
        return error;
    }
    int result = 0;
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(folder);
        if (!entry) {
            result = errno;
            break;
        }
        const char *name = entry->d_name;
        if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))
            continue;
        size_t n = strlen(name);
        if (!valid_utf8((const uint8_t *)name, n)) {
            result = -1;
            break;
        }
        int is_regular = entry->d_type == DT_REG;
        if (entry->d_type == DT_UNKNOWN) {
            struct stat info;
            is_regular = fstatat(dirfd(folder), name, &info, AT_SYMLINK_NOFOLLOW) == 0 &&
                         S_ISREG(info.st_mode);
        }
        NameList *into = is_regular ? regular : others;
        if (is_regular && rule && is_plain_name(name, n)) {
            uint64_t bucket = xxh3_64((const uint8_t *)name, n) % rule->of;
            if (rule->percent ? bucket >= rule->part : bucket != rule->part - 1) {
                (*dropped)++;
                continue;
            }
            into = picked;
        }
        if (name_put(arena, into, name, n) != 0) {
            result = -2;
            break;
        }
    }
    closedir(folder);
    return result;
}

/* The names as Python strings; ``names[i]`` is the name's offset in ``arena``, or (once
 * ``pointers``) its address. */
static PyObject *name_list(const NameArena *arena, const NameList *names, int pointers)
{
    PyObject *list = PyList_New((Py_ssize_t)names->count);
    for (size_t i = 0; list && i < names->count; i++) {
        if (pointers && i + PREFETCH_AHEAD < names->count) /* sorted: all over the arena */
            PREFETCH((const char *)(uintptr_t)names->at[i + PREFETCH_AHEAD]);
        const char *name = pointers ? (const char *)(uintptr_t)names->at[i]
                                    : arena->data + names->at[i];
        PyObject *text = PyUnicode_DecodeUTF8(name, (Py_ssize_t)strlen(name), NULL);
        if (!text) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, text);
    }
    return list;
}

/* list_folder(dir_fd, sort) and list_sampled(dir_fd, part, of, percent); see the methods
 * table.  ``sorted_list`` is sorted when ``sort``; the other lists keep listing order. */
static PyObject *listing(long dir_fd, int sort, const SampleRule *rule)
{
    if (dir_fd < 0 || dir_fd > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "list_folder: bad folder descriptor");
        return NULL;
    }
    NameArena arena = {NULL, 0, 0};
    NameList regular = {NULL, 0, 0}, others = {NULL, 0, 0}, picked = {NULL, 0, 0};
    NameList *sorted_list = rule ? &picked : &regular;
    size_t dropped = 0;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = read_folder((int)dir_fd, &arena, &regular, &others, rule, &picked, &dropped);
    if (status == 0) {
        names_to_addresses(&arena, sorted_list); /* the arena no longer moves */
        if (sort && sort_names(sorted_list) != 0)
            status = -2;
    }
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    if (status == -2) {
        PyErr_NoMemory();
    } else if (status > 0) {
        errno = status;
        PyErr_SetFromErrno(PyExc_OSError);
    } else if (status == -1) {
        result = Py_NewRef(Py_None);
    } else {
        PyObject *first = name_list(&arena, sorted_list, 1);
        PyObject *rest = first ? name_list(&arena, &others, 0) : NULL;
        PyObject *more = rest && rule ? name_list(&arena, &regular, 0) : NULL;
        if (!rule)
            result = rest ? PyTuple_Pack(2, first, rest) : NULL;
        else if (more)
            result = Py_BuildValue("(OOOn)", first, more, rest, (Py_ssize_t)dropped);
        Py_XDECREF(first);
        Py_XDECREF(rest);
        Py_XDECREF(more);
    }
    free(arena.data);
    free(regular.at);
    free(others.at);
    free(picked.at);
    return result;
}

static PyObject *list_folder(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "list_folder(dir_fd, sort)");
        return NULL;
    }
    long dir_fd = PyLong_AsLong(args[0]);
    if (dir_fd == -1 && PyErr_Occurred())
        return NULL;
    int sort = PyObject_IsTrue(args[1]);
    return sort < 0 ? NULL : listing(dir_fd, sort, NULL);
}

static PyObject *list_sampled(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "list_sampled(dir_fd, part, of, percent)");
        return NULL;
    }
    long dir_fd = PyLong_AsLong(args[0]);
    long long part = PyLong_AsLongLong(args[1]), of = PyLong_AsLongLong(args[2]);
    int percent = PyObject_IsTrue(args[3]);
    if (PyErr_Occurred() || percent < 0)
        return NULL;
    if (of < 1 || part < (percent ? 0 : 1) || part > of) {
        PyErr_SetString(PyExc_ValueError, "list_sampled: bad sample");
        return NULL;
    }
    SampleRule rule = {(uint64_t)part, (uint64_t)of, percent};
    return listing(dir_fd, 1, &rule);
}

/* The name -> row table: 2^k slots of 8 bytes (at least twice the names), each 0 (empty)
 * or the high 32 bits of the name's xxh3 over the row + 1; a name's search starts at its
 * hash's low bits and goes on slot by slot.  A slot whose bits match is compared with the
 * name of its row (``names[row]``, as UTF-8), so two names never share a row. */
static size_t table_capacity(size_t count)
{
    size_t capacity = 8;
    while (capacity < 2 * count)
        capacity *= 2;
    return capacity;
}

/* The row of the name ``key`` (``len`` bytes of UTF-8) in ``slots``, or -1. */
static Py_ssize_t table_find(const uint64_t *slots, size_t capacity, PyObject *names,
                             const char *key, Py_ssize_t len)
{
    uint64_t hash = xxh3_64((const uint8_t *)key, (size_t)len), tag = hash >> 32 << 32;
    size_t mask = capacity - 1, at = (size_t)hash & mask;
    for (size_t probes = 0; probes < capacity; probes++, at = (at + 1) & mask) {
        uint64_t slot = slots[at];
        if (slot == 0)
            return -1;
        if ((slot & 0xFFFFFFFF00000000ULL) != tag)
            continue;
        Py_ssize_t row = (Py_ssize_t)(slot & 0xFFFFFFFFULL) - 1, size = 0;
        if (row >= PyList_GET_SIZE(names))
            continue;
        PyObject *name = PyList_GET_ITEM(names, row);
        const char *bytes = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &size) : NULL;
        if (!bytes)
            PyErr_Clear();
        else if (size == len && memcmp(bytes, key, (size_t)len) == 0)
            return row;
    }
    return -1;
}

/* Put ``row`` (its name ``bytes``, hashed) in the table; a repeated name takes the later
 * row, as in a dict. */
static void table_put(uint64_t *slots, size_t mask, PyObject *names, Py_ssize_t row,
                      uint64_t hash, const char *bytes, Py_ssize_t len)
{
    uint64_t slot = (hash >> 32 << 32) | (uint64_t)(row + 1);
    size_t at = (size_t)hash & mask;
    for (; slots[at]; at = (at + 1) & mask) {
        if ((slots[at] ^ slot) >> 32)
            continue;
        Py_ssize_t other = (Py_ssize_t)(slots[at] & 0xFFFFFFFFULL) - 1, size = 0;
        const char *seen = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(names, other), &size);
        if (seen && size == len && memcmp(seen, bytes, (size_t)len) == 0)
            break;
    }
    slots[at] = slot;
}

/* row_table(names) -> bytes: the slots of names[i] -> i (the last row of a name repeated,
 * as in a dict), or None when a name is not UTF-8 (surrogate escapes: the dict twin). */
static PyObject *row_table(PyObject *module, PyObject *names)
{
    (void)module;
    if (!PyList_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "row_table(names)");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(names);
    if ((uint64_t)count >= 0xFFFFFFFFULL / 2)
        Py_RETURN_NONE;
    size_t capacity = table_capacity((size_t)count), mask = capacity - 1;
    PyObject *table = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(capacity * sizeof(uint64_t)));
    if (!table)
        return NULL;
    uint64_t *slots = (uint64_t *)PyBytes_AS_STRING(table);
    memset(slots, 0, capacity * sizeof(uint64_t));
    /* In batches: the names hashed first, their slots fetched, then filled (a table of a
     * million names is far larger than the caches; the waits for its slots overlap). */
    enum { BATCH = 32 };
    uint64_t hashes[BATCH];
    const char *texts[BATCH];
    Py_ssize_t lens[BATCH];
    for (Py_ssize_t first = 0; first < count; first += BATCH) {
        Py_ssize_t batch = count - first < BATCH ? count - first : BATCH;
        for (Py_ssize_t i = 0; i < batch; i++) {
            PyObject *name = PyList_GET_ITEM(names, first + i);
            texts[i] = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &lens[i]) : NULL;
            if (!texts[i]) {
                Py_DECREF(table);
                if (!PyUnicode_Check(name)) {
                    PyErr_SetString(PyExc_TypeError, "row_table: names are strings");
                    return NULL;
                }
                PyErr_Clear();
                Py_RETURN_NONE;
            }
            hashes[i] = xxh3_64((const uint8_t *)texts[i], (size_t)lens[i]);
            PREFETCH(&slots[(size_t)hashes[i] & mask]);
        }
        for (Py_ssize_t i = 0; i < batch; i++)
            table_put(slots, mask, names, first + i, hashes[i], texts[i], lens[i]);
    }
    return table;
}

/* table_row(slots, names, name) -> the row of ``name``, or -1. */
static PyObject *table_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "table_row(slots, names, name)");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]), len = 0;
    size_t capacity = (size_t)size / sizeof(uint64_t);
    if (capacity < 8 || (capacity & (capacity - 1)) || (size_t)size % sizeof(uint64_t)) {
        PyErr_SetString(PyExc_ValueError, "table_row: not a row table");
        return NULL;
    }
    const char *key = PyUnicode_Check(args[2]) ? PyUnicode_AsUTF8AndSize(args[2], &len) : NULL;
    if (!key) {
        /* Not a string, or not UTF-8: no name of a table is either. */
        PyErr_Clear();
        return PyLong_FromLong(-1);
    }
    return PyLong_FromSsize_t(table_find((const uint64_t *)PyBytes_AS_STRING(args[0]),
                                         capacity, args[1], key, len));
}
/* counter_order_pass(groups, latest, procs, counters, secs, nanos) -> [the keys of the
 * groups Python must look at], or None when a column or group is not an array('q') (the
 * twin then looks at every group).  The healthy case of chains._counter_order, settled
 * here: a (thread, process) group's rows, stably sorted by counter, without the thread's
 * latest row when it is of that process, have timestamps that never go back.  Keys come
 * in the dict's order, so the findings do too. */
typedef struct {
    int64_t counter;
    Py_ssize_t at; /* position in the group: equal counters keep their order */
    int64_t row;
} CounterRow;

static int by_counter(const void *a, const void *b)
{
    const CounterRow *x = a, *y = b;
    if (x->counter != y->counter)
        return (x->counter > y->counter) - (x->counter < y->counter);
    return (x->at > y->at) - (x->at < y->at);
}

static int int64_column(PyObject *object, Py_buffer *view)
{
    if (PyObject_GetBuffer(object, view, PyBUF_FORMAT) != 0) {
        PyErr_Clear();
        return 0;
    }
    if (view->itemsize == 8 && view->format && strcmp(view->format, "q") == 0)
        return 1;
    PyBuffer_Release(view);
    return 0;
}

/* 1 when the group needs Python, 0 when it is settled, -1 on an error. */
static int group_goes_back(const int64_t *rows, Py_ssize_t count, Py_ssize_t skip,
                           const int64_t *counters, const int64_t *secs, const int64_t *nanos,
                           Py_ssize_t columns, CounterRow **scratch, Py_ssize_t *scratch_cap)
{
    if (count > *scratch_cap) {
        CounterRow *grown = PyMem_Realloc(*scratch, (size_t)count * sizeof(**scratch));
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        *scratch = grown;
        *scratch_cap = count;
    }
    CounterRow *members = *scratch;
    Py_ssize_t kept = 0;
    for (Py_ssize_t at = 0; at < count; at++) {
        if (rows[at] < 0 || rows[at] >= columns)
            return 1; /* not a row of these columns: Python says what it is */
        members[kept++] = (CounterRow){counters[rows[at]], at, rows[at]};
    }
    qsort(members, (size_t)kept, sizeof(*members), by_counter);
    int skipped = 0;
    __int128 previous = 0;
    int first = 1;
    for (Py_ssize_t i = 0; i < kept; i++) {
        if (!skipped && members[i].row == skip) {
            skipped = 1; /* the first copy only, as list.index and del do */
            continue;
        }
        __int128 moment = (__int128)secs[members[i].row] * 1000000000 + nanos[members[i].row];
        if (!first && moment < previous)
            return 1;
        previous = moment;
        first = 0;
    }
    return 0;
}

static PyObject *counter_order_pass(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 6 || !PyDict_Check(args[0]) || !PyDict_Check(args[1]) || !PyList_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "counter_order_pass(groups, latest, procs, counters, secs, nanos)");
        return NULL;
    }
    PyObject *groups = args[0], *latest = args[1], *procs = args[2], *result = NULL;
    Py_buffer columns[3];
    int held = 0;
    for (; held < 3; held++)
        if (!int64_column(args[3 + held], &columns[held]))
            break;
    Py_ssize_t count = PyList_GET_SIZE(procs);
    if (held < 3 || columns[0].len / 8 != count || columns[1].len / 8 != count ||
        columns[2].len / 8 != count) {
        for (int c = 0; c < held; c++)
            PyBuffer_Release(&columns[c]);
        Py_RETURN_NONE;
    }
    const int64_t *counters = columns[0].buf, *secs = columns[1].buf, *nanos = columns[2].buf;
    CounterRow *scratch = NULL;
    Py_ssize_t scratch_cap = 0, position = 0;
    PyObject *key, *group;
    PyObject *unsettled = PyList_New(0);
    if (!unsettled)
        goto done;
    while (PyDict_Next(groups, &position, &key, &group)) {
        if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) != 2)
            goto twin;
        Py_ssize_t skip = -1;
        PyObject *newest = PyDict_GetItemWithError(latest, PyTuple_GET_ITEM(key, 0));
        if (!newest && PyErr_Occurred())
            goto fail;
        if (newest) {
            Py_ssize_t row = PyLong_AsSsize_t(newest);
            if (row == -1 && PyErr_Occurred())
                goto fail;
            if (row < 0 || row >= count)
                goto twin;
            int same = PyObject_RichCompareBool(PyList_GET_ITEM(procs, row),
                                                PyTuple_GET_ITEM(key, 1), Py_EQ);
            if (same < 0)
                goto fail;
            skip = same ? row : -1;
        }
        Py_buffer rows;
        if (!int64_column(group, &rows))
            goto twin;
        int back = group_goes_back(rows.buf, rows.len / 8, skip, counters, secs, nanos, count,
                                   &scratch, &scratch_cap);
        PyBuffer_Release(&rows);
        if (back < 0 || (back && PyList_Append(unsettled, key) != 0))
            goto fail;
    }
    result = unsettled;
    unsettled = NULL;
    goto done;
twin:
    result = Py_NewRef(Py_None);
    goto done;
fail:
    result = NULL;
done:
    Py_XDECREF(unsettled);
    PyMem_Free(scratch);
    for (int c = 0; c < 3; c++)
        PyBuffer_Release(&columns[c]);
    return result;
}
/* ======================== end of: issue 11 at 1,000,000 files ============== */

/* The array ``slots`` (``*cap`` slots of ``size`` bytes) once ``key`` is filed in ``index``
 * (a dict of key -> slot number) under the next slot number, ``seen``, and the array can
 * hold that slot (grown, and so maybe moved); NULL on an error, the array left as it was. */
static void *add_slot(PyObject *index, PyObject *key, void *slots, size_t size,
                      Py_ssize_t seen, Py_ssize_t *cap)
{
    PyObject *number = PyLong_FromSsize_t(seen);
    if (!number || PyDict_SetItem(index, key, number) != 0) {
        Py_XDECREF(number);
        return NULL;
    }
    Py_DECREF(number);
    if (seen < *cap)
        return slots;
    Py_ssize_t grown_cap = *cap ? *cap * 2 : 64;
    void *grown = PyMem_Realloc(slots, (size_t)grown_cap * size);
    if (!grown)
        return PyErr_NoMemory();
    *cap = grown_cap;
    return grown;
}

/* group_timed_rows: the tables dashfix.checks.lineage.view derives from a store's timed
 * rows (secs >= 0, with a thread), in one pass: per thread, the row of the newest
 * checkpoint (greatest (secs, nanos), ties broken by the greater id string, which
 * ``checkpoint_id(row)`` gives: inputs/latest.py's FILE_SCAN), and the rows of each
 * (thread, process) group, in row order.  Its Python twins are FILE_SCAN.latest_rows and
 * LineageView._group_timed_rows; the tests hold them to the same answers.  Returns
 * ({thread: row}, {(thread, proc): array('q') of rows}), each in first-seen order. */
typedef struct {
    int64_t *rows;
    size_t count, cap;
} RowGroup;

static int group_put(RowGroup *group, int64_t row)
{
    if (group->count == group->cap) {
        size_t cap = group->cap ? group->cap * 2 : 16;
        int64_t *grown = realloc(group->rows, cap * sizeof(*grown));
        if (!grown)
            return -1;
        group->rows = grown;
        group->cap = cap;
    }
    group->rows[group->count++] = row;
    return 0;
}

/* array('q') of the values (``array`` is the array type). */
static PyObject *int64_array(PyObject *array, const RowGroup *values)
{
    PyObject *packed = PyBytes_FromStringAndSize(
        values->rows ? (const char *)values->rows : "", (Py_ssize_t)(values->count * 8));
    PyObject *column = packed ? PyObject_CallFunction(array, "sO", "q", packed) : NULL;
    Py_XDECREF(packed);
    return column;
}

/* 1 when row's id is greater than best's (None counts as ""), 0 when not, -1 on error. */
static int id_greater(PyObject *checkpoint_id, Py_ssize_t row, Py_ssize_t best)
{
    PyObject *mine = PyObject_CallFunction(checkpoint_id, "n", row);
    PyObject *theirs = mine ? PyObject_CallFunction(checkpoint_id, "n", best) : NULL;
    int greater = -1;
    if (theirs) {
        PyObject *empty = PyUnicode_FromStringAndSize("", 0);
        if (empty) {
            greater = PyObject_RichCompareBool(mine == Py_None ? empty : mine,
                                               theirs == Py_None ? empty : theirs, Py_GT);
            Py_DECREF(empty);
        }
    }
    Py_XDECREF(mine);
    Py_XDECREF(theirs);
    return greater;
}

static PyObject *group_timed_rows(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 6 || !PyList_Check(args[0]) || !PyList_Check(args[1]) ||
        !PyCallable_Check(args[4]) || !PyCallable_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError,
                        "group_timed_rows(threads, procs, secs, nanos, checkpoint_id, array)");
        return NULL;
    }
    PyObject *threads = args[0], *procs = args[1], *checkpoint_id = args[4], *array = args[5];
    Py_buffer secs_buffer = {0}, nanos_buffer = {0};
    int held = 0;
    PyObject *thread_index = NULL, *group_index = NULL, *latest = NULL, *groups = NULL,
             *result = NULL;
    Py_ssize_t *best = NULL;
    RowGroup *row_groups = NULL;
    Py_ssize_t threads_seen = 0, groups_seen = 0, best_cap = 0, groups_cap = 0;
    if (PyObject_GetBuffer(args[2], &secs_buffer, PyBUF_FORMAT) != 0)
        return NULL;
    held = 1;
    if (PyObject_GetBuffer(args[3], &nanos_buffer, PyBUF_FORMAT) != 0)
        goto done;
    held = 2;
    Py_ssize_t count = PyList_GET_SIZE(threads);
    if (secs_buffer.itemsize != 8 || nanos_buffer.itemsize != 8 || !secs_buffer.format ||
        !nanos_buffer.format || strcmp(secs_buffer.format, "q") != 0 ||
        strcmp(nanos_buffer.format, "q") != 0 || secs_buffer.len / 8 != count ||
        nanos_buffer.len / 8 != count || PyList_GET_SIZE(procs) != count) {
        PyErr_SetString(PyExc_TypeError, "group_timed_rows: columns of array('q'), one length");
        goto done;
    }
    const int64_t *secs = secs_buffer.buf, *nanos = nanos_buffer.buf;
    thread_index = PyDict_New();
    group_index = PyDict_New();
    if (!thread_index || !group_index)
        goto done;
    PyObject *last_thread = NULL, *last_proc = NULL;
    RowGroup *group = NULL;
    Py_ssize_t group_at = -1;
    for (Py_ssize_t row = 0; row < count; row++) {
        int64_t moment = secs[row];
        if (moment < 0)
            continue; /* not timed */
        PyObject *thread = PyList_GET_ITEM(threads, row);
        if (thread == Py_None)
            continue; /* no ids: takes no part */
        PyObject *found = PyDict_GetItemWithError(thread_index, thread);
        if (!found && PyErr_Occurred())
            goto done;
        if (!found) {
            Py_ssize_t *grown = add_slot(thread_index, thread, best, sizeof(*best),
                                         threads_seen, &best_cap);
            if (!grown)
                goto done;
            best = grown;
            best[threads_seen++] = row;
        } else {
            Py_ssize_t at = PyLong_AsSsize_t(found), current = best[at];
            int newer = moment > secs[current] ||
                        (moment == secs[current] && nanos[row] > nanos[current]);
            if (!newer && moment == secs[current] && nanos[row] == nanos[current]) {
                newer = id_greater(checkpoint_id, row, current);
                if (newer < 0)
                    goto done;
            }
            if (newer)
                best[at] = row;
        }
        PyObject *proc = PyList_GET_ITEM(procs, row);
        if (proc == Py_None)
            continue;
        if (proc != last_proc || thread != last_thread) {
            PyObject *key = PyTuple_Pack(2, thread, proc);
            if (!key)
                goto done;
            PyObject *index = PyDict_GetItemWithError(group_index, key);
            if (!index && PyErr_Occurred()) {
                Py_DECREF(key);
                goto done;
            }
            if (index) {
                group_at = PyLong_AsSsize_t(index);
            } else {
                RowGroup *grown = add_slot(group_index, key, row_groups, sizeof(*row_groups),
                                           groups_seen, &groups_cap);
                if (!grown) {
                    Py_DECREF(key);
                    goto done;
                }
                row_groups = grown;
                row_groups[groups_seen] = (RowGroup){NULL, 0, 0};
                group_at = groups_seen++;
            }
            Py_DECREF(key);
            last_thread = thread; /* borrowed: the lists keep them alive */
            last_proc = proc;
        }
        group = &row_groups[group_at];
        if (group_put(group, row) != 0) {
            PyErr_NoMemory();
            goto done;
        }
    }
    latest = PyDict_New();
    groups = PyDict_New();
    if (!latest || !groups)
        goto done;
    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (PyDict_Next(thread_index, &position, &key, &value)) {
        PyObject *row = PyLong_FromSsize_t(best[PyLong_AsSsize_t(value)]);
        if (!row || PyDict_SetItem(latest, key, row) != 0) {
            Py_XDECREF(row);
            goto done;
        }
        Py_DECREF(row);
    }
    position = 0;
    while (PyDict_Next(group_index, &position, &key, &value)) {
        /* Each group's buffer is freed once it is an array: the rows are never held twice
         * (a store of 1,000,000 files has 8 MB of them). */
        RowGroup *rows = &row_groups[PyLong_AsSsize_t(value)];
        PyObject *column = int64_array(array, rows);
        free(rows->rows);
        *rows = (RowGroup){NULL, 0, 0};
        if (!column || PyDict_SetItem(groups, key, column) != 0) {
            Py_XDECREF(column);
            goto done;
        }
        Py_DECREF(column);
    }
    result = PyTuple_Pack(2, latest, groups);
done:
    if (held >= 1)
        PyBuffer_Release(&secs_buffer);
    if (held >= 2)
        PyBuffer_Release(&nanos_buffer);
    for (Py_ssize_t i = 0; i < groups_seen; i++)
        free(row_groups[i].rows);
    PyMem_Free(row_groups);
    PyMem_Free(best);
    Py_XDECREF(thread_index);
    Py_XDECREF(group_index);
    Py_XDECREF(latest);
    Py_XDECREF(groups);
    return result;
}

/* parent_pass: the pass of dashfix.checks.lineage.chains._parents over the timed rows with a
 * parent, for a store where no id is carried by two rows.  A row whose parent row is PLAIN,
 * of its thread and from the same second or before is settled here (the healthy case);
 * every other row is returned, with the first earlier child of its parent row (or -1), for
 * the Python side to report.  Also the (parent row, first child, row) of each settled row
 * that shares its parent with an earlier child of its thread (a fork).  Its Python twin is
 * chains._parent_pass_python; the tests hold both to the same answers.  Returns
 * (slow rows, their siblings, fork triples), each an array('q'). */
static int same_thread(PyObject *a, PyObject *b)
{
    return a == b ? 1 : PyObject_RichCompareBool(a, b, Py_EQ);
}

static PyObject *parent_pass(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5 || !PyList_Check(args[1]) || !PyByteArray_Check(args[3]) ||
        !PyCallable_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "parent_pass(parent_rows, threads, secs, kinds, array)");
        return NULL;
    }
    PyObject *threads = args[1], *kinds_object = args[3], *array = args[4];
    Py_buffer parents_buffer = {0}, secs_buffer = {0};
    int held = 0;
    int64_t *first_child = NULL;
    RowGroup slow = {NULL, 0, 0}, siblings = {NULL, 0, 0}, forks = {NULL, 0, 0};
    PyObject *result = NULL;
    if (PyObject_GetBuffer(args[0], &parents_buffer, PyBUF_FORMAT) != 0)
        return NULL;
    held = 1;
    if (PyObject_GetBuffer(args[2], &secs_buffer, PyBUF_FORMAT) != 0)
        goto done;
    held = 2;
    Py_ssize_t count = PyList_GET_SIZE(threads);
    if (parents_buffer.itemsize != 8 || secs_buffer.itemsize != 8 || !parents_buffer.format ||
        !secs_buffer.format || strcmp(parents_buffer.format, "q") != 0 ||
        strcmp(secs_buffer.format, "q") != 0 || parents_buffer.len / 8 != count ||
        secs_buffer.len / 8 != count || PyByteArray_GET_SIZE(kinds_object) != count) {
        PyErr_SetString(PyExc_TypeError, "parent_pass: columns of array('q'), one length");
        goto done;
    }
    const int64_t *parent_rows = parents_buffer.buf, *secs = secs_buffer.buf;
    const char *kinds = PyByteArray_AS_STRING(kinds_object);
    first_child = PyMem_Malloc(sizeof(*first_child) * (size_t)(count ? count : 1));
    if (!first_child) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t row = 0; row < count; row++)
        first_child[row] = NO_PARENT_ROW;
    for (Py_ssize_t row = 0; row < count; row++) {
        int64_t parent_row = parent_rows[row], moment = secs[row];
        if (moment < 0 || parent_row == NO_PARENT_ROW)
            continue; /* not timed, or no parent */
        int64_t sibling = NO_PARENT_ROW;
        if (parent_row >= 0) {
            if (parent_row >= count) {
                PyErr_SetString(PyExc_ValueError, "parent_pass: a parent row out of range");
                goto done;
            }
            sibling = first_child[parent_row];
            if (sibling < 0)
                first_child[parent_row] = row;
            PyObject *thread = PyList_GET_ITEM(threads, row);
            int healthy = kinds[parent_row] == ROW_PLAIN;
            if (healthy) {
                healthy = same_thread(thread, PyList_GET_ITEM(threads, parent_row));
                if (healthy < 0)
                    goto done;
                healthy = healthy && moment >= secs[parent_row];
            }
            if (healthy) {
                if (sibling >= 0) {
                    int fork = same_thread(PyList_GET_ITEM(threads, sibling), thread);
                    if (fork < 0)
                        goto done;
                    if (fork && (group_put(&forks, parent_row) != 0 ||
                                 group_put(&forks, sibling) != 0 ||
                                 group_put(&forks, row) != 0)) {
                        PyErr_NoMemory();
                        goto done;
                    }
                }
                continue;
            }
        }
        if (group_put(&slow, row) != 0 || group_put(&siblings, sibling) != 0) {
            PyErr_NoMemory();
            goto done;
        }
    }
    PyObject *columns[3] = {int64_array(array, &slow), NULL, NULL};
    if (columns[0])
        columns[1] = int64_array(array, &siblings);
    if (columns[1])
        columns[2] = int64_array(array, &forks);
    if (columns[2])
        result = PyTuple_Pack(3, columns[0], columns[1], columns[2]);
    for (int c = 0; c < 3; c++)
        Py_XDECREF(columns[c]);
done:
    if (held >= 1)
        PyBuffer_Release(&parents_buffer);
    if (held >= 2)
        PyBuffer_Release(&secs_buffer);
    PyMem_Free(first_child);
    free(slow.rows);
    free(siblings.rows);
    free(forks.rows);
    return result;
}

/* ---- Kafka batches ---------------------------------------------------------------------
 *
 * The Kafka reader's per-record steps between confluent-kafka's consume() and the scanner:
 * message_block turns a batch of the client's Message objects into the (offset, 0, value)
 * records the log checks take and notes each key by offset (inputs/kafka.py), and
 * key_misfits finds the records whose key or partition the Kafka checks must look at
 * (checks/stream/kafka.py KeysAndHomes.block).  A Message is read only through its own
 * methods (offset(), key(), value(), error()), never through its struct, whose layout is
 * the client's.  Python twins: native.message_block and native.key_misfits without the
 * module; tests hold them to the same answers.
 */

static const char *const message_getters[] = {"error", "offset", "key", "value"};
#define MESSAGE_GETTERS 4

/* message_block(messages, keys): the records of a batch, or None when one of its messages
 * is an error (an end of partition, say), which the caller settles; ``keys`` (a dict) is
 * cleared and then maps each record's offset to its key. */
static PyObject *message_block(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || !PyList_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "message_block(messages: list, keys: dict)");
        return NULL;
    }
    PyObject *messages = args[0];
    PyObject *keys = args[1];
    PyDict_Clear(keys);
    Py_ssize_t count = PyList_GET_SIZE(messages);
    if (count == 0)
        return PyList_New(0);
    /* The getters of the batch's type, called unbound: no bound method per call. */
    PyTypeObject *type = Py_TYPE(PyList_GET_ITEM(messages, 0));
    PyObject *getter[MESSAGE_GETTERS] = {NULL};
    PyObject *block = NULL;
    for (int k = 0; k < MESSAGE_GETTERS; k++) {
        getter[k] = PyObject_GetAttrString((PyObject *)type, message_getters[k]);
        if (!getter[k])
            goto done;
    }
    block = PyList_New(count);
    if (!block)
        goto done;
    PyObject *zero = PyLong_FromLong(0);
    if (!zero)
        goto fail;
    for (Py_ssize_t i = 0; i < count; i++) {
        /* A getter may run Python code (a subclass): hold the message meanwhile. */
        PyObject *message = PyList_GET_ITEM(messages, i);
        if (Py_TYPE(message) != type) {
            PyErr_SetString(PyExc_TypeError, "a batch holds messages of one type");
            goto fail_zero;
        }
        Py_INCREF(message);
        PyObject *error = PyObject_Vectorcall(getter[0], &message, 1, NULL);
        if (!error || error != Py_None) {
            Py_DECREF(message);
            if (!error)
                goto fail_zero;
            Py_DECREF(error);
            Py_DECREF(zero);
            Py_CLEAR(block);
            PyDict_Clear(keys);
            block = Py_NewRef(Py_None);
            goto done;
        }
        Py_DECREF(error);
        PyObject *offset = PyObject_Vectorcall(getter[1], &message, 1, NULL);
        PyObject *key = offset ? PyObject_Vectorcall(getter[2], &message, 1, NULL) : NULL;
        PyObject *value = key ? PyObject_Vectorcall(getter[3], &message, 1, NULL) : NULL;
        Py_DECREF(message);
        PyObject *record = value ? PyTuple_New(3) : NULL;
        if (!record || PyDict_SetItem(keys, offset, key) < 0) {
            Py_XDECREF(record);
            Py_XDECREF(offset);
            Py_XDECREF(key);
            Py_XDECREF(value);
            goto fail_zero;
        }
        Py_DECREF(key);
        PyTuple_SET_ITEM(record, 0, offset);
        PyTuple_SET_ITEM(record, 1, Py_NewRef(zero));
        PyTuple_SET_ITEM(record, 2, value);
        PyList_SET_ITEM(block, i, record);
    }
    Py_DECREF(zero);
    goto done;
fail_zero:
    Py_DECREF(zero);
fail:
    Py_CLEAR(block);
    PyDict_Clear(keys);
done:
    for (int k = 0; k < MESSAGE_GETTERS; k++)
        Py_XDECREF(getter[k]);
    return block;
}

/* key_misfits(block, scans, keys, homes, partition): the indexes of the records of ``block``
 * that have a scan (``scans[i]`` not None; its item 1 is the header's thread_id) and either
 * a key (``keys[offset]``) that is not the thread_id's UTF-8, or else a thread whose home
 * (``homes.setdefault(thread_id, partition)``) is another partition. */
static PyObject *key_misfits(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5 || !PyList_Check(args[0]) || !PyList_Check(args[1])
        || !PyDict_Check(args[2]) || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "key_misfits(block: list, scans: list, keys: dict, homes: dict, "
                        "partition: int)");
        return NULL;
    }
    PyObject *block = args[0], *scans = args[1], *keys = args[2], *homes = args[3];
    PyObject *partition = args[4];
    Py_ssize_t count = PyList_GET_SIZE(block);
    if (PyList_GET_SIZE(scans) != count) {
        PyErr_SetString(PyExc_ValueError, "a scan per record");
        return NULL;
    }
    PyObject *misfits = PyList_New(0);
    if (!misfits)
        return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *scan = PyList_GET_ITEM(scans, i);
        if (scan == Py_None)
            continue;
        PyObject *record = PyList_GET_ITEM(block, i);
        if (!PyTuple_Check(scan) || PyTuple_GET_SIZE(scan) < 2
            || !PyUnicode_Check(PyTuple_GET_ITEM(scan, 1))
            || !PyTuple_Check(record) || PyTuple_GET_SIZE(record) < 1) {
            PyErr_SetString(PyExc_TypeError, "a record is a tuple, a scan a tuple whose item "
                                             "1 is a thread_id");
            goto fail;
        }
        PyObject *thread_id = PyTuple_GET_ITEM(scan, 1);
        PyObject *key = PyDict_GetItemWithError(keys, PyTuple_GET_ITEM(record, 0));
        if (!key) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, PyTuple_GET_ITEM(record, 0));
            goto fail;
        }
        Py_ssize_t size;
        const char *utf8 = PyUnicode_AsUTF8AndSize(thread_id, &size);
        if (!utf8)
            goto fail;
        int fits = PyBytes_Check(key) && PyBytes_GET_SIZE(key) == size
                   && memcmp(PyBytes_AS_STRING(key), utf8, (size_t)size) == 0;
        if (fits) {
            PyObject *home = PyDict_SetDefault(homes, thread_id, partition);
            if (!home)
                goto fail;
            fits = PyObject_RichCompareBool(home, partition, Py_EQ);
            if (fits < 0)
                goto fail;
        }
        if (!fits) {
            PyObject *at = PyLong_FromSsize_t(i);
            if (!at || PyList_Append(misfits, at) < 0) {
                Py_XDECREF(at);
                goto fail;
            }
            Py_DECREF(at);
        }
    }
    return misfits;
fail:
    Py_DECREF(misfits);
    return NULL;
}
/* ---- end of Kafka batches -------------------------------------------------------------- */

/* ---- index rebuild: each thread's contenders ------------------------------------------
 * plain_contenders: the pass of dashfix.repair.scan_adapter over a store's PLAIN rows (the
 * healthy {id}.bin files: nearly every row) that rebuild-index and repair plan the new
 * index from.  Per thread: how many PLAIN rows it has, and the first of its rows with the
 * greatest (secs, nanos, id) and the first with the greatest (mtime, id), the id being the
 * file name without ".bin" compared by code point as Python compares strings (the order of
 * inputs/latest.py's FILE_SCAN, by embedded time and by mtime).  Only these two of a
 * thread's PLAIN rows can win a ranking, so no Python object is made for the others.  Its
 * Python twin is scan_adapter._plain_contenders_python; the tests hold both to the same
 * answers.  Returns {thread: (files, by_embedded_row, by_mtime_row)}, in first-seen order. */
typedef struct {
    int64_t files, by_embedded, by_mtime;
} Contenders;

/* -1, 0 or 1 as the id of name ``a`` (its name without the 4-character ".bin") sorts
 * before, with or after the id of ``b``; -2 (with an exception set) when a name is not a
 * str of at least 4 characters. */
static int id_order(PyObject *a, PyObject *b)
{
    if (!PyUnicode_Check(a) || !PyUnicode_Check(b) || PyUnicode_GET_LENGTH(a) < 4 ||
        PyUnicode_GET_LENGTH(b) < 4) {
        PyErr_SetString(PyExc_ValueError, "plain_contenders: a PLAIN row's name is {id}.bin");
        return -2;
    }
    Py_ssize_t a_len = PyUnicode_GET_LENGTH(a) - 4, b_len = PyUnicode_GET_LENGTH(b) - 4;
    int a_kind = PyUnicode_KIND(a), b_kind = PyUnicode_KIND(b);
    const void *a_data = PyUnicode_DATA(a), *b_data = PyUnicode_DATA(b);
    Py_ssize_t common = a_len < b_len ? a_len : b_len;
    for (Py_ssize_t i = 0; i < common; i++) {
        Py_UCS4 x = PyUnicode_READ(a_kind, a_data, i), y = PyUnicode_READ(b_kind, b_data, i);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return a_len < b_len ? -1 : a_len > b_len;
}

/* 1 when row ranks after best by (time, nanos, id), 0 when not, -1 on an error. */
static int ranks_after(int64_t time, int64_t nanos, int64_t best_time, int64_t best_nanos,
                       PyObject *name, PyObject *best_name)
{
    if (time != best_time)
        return time > best_time;
    if (nanos != best_nanos)
        return nanos > best_nanos;
    int order = id_order(name, best_name);
    return order == -2 ? -1 : order > 0;
}

static PyObject *plain_contenders(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 6 || !PyByteArray_Check(args[0]) || !PyList_Check(args[1]) ||
        !PyList_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "plain_contenders(kinds, threads, names, secs, nanos, mtimes)");
        return NULL;
    }
    PyObject *threads = args[1], *names = args[2];
    Py_buffer buffers[3] = {{0}};
    int held = 0;
    PyObject *slot_of = NULL, *result = NULL;
    Contenders *found = NULL;
    Py_ssize_t seen = 0, cap = 0;
    Py_ssize_t count = PyByteArray_GET_SIZE(args[0]);
    for (; held < 3; held++) {
        Py_buffer *view = &buffers[held];
        if (PyObject_GetBuffer(args[3 + held], view, PyBUF_FORMAT) != 0)
            goto done;
        if (view->itemsize != 8 || !view->format || strcmp(view->format, "q") != 0 ||
            view->len / 8 != count) {
            held++;
            PyErr_SetString(PyExc_TypeError, "plain_contenders: secs, nanos and mtimes are "
                                             "array('q') as long as kinds");
            goto done;
        }
    }
    if (PyList_GET_SIZE(threads) != count || PyList_GET_SIZE(names) != count) {
        PyErr_SetString(PyExc_TypeError, "plain_contenders: threads and names as long as kinds");
        goto done;
    }
    const char *kinds = PyByteArray_AS_STRING(args[0]);
    const int64_t *secs = buffers[0].buf, *nanos = buffers[1].buf, *mtimes = buffers[2].buf;
    slot_of = PyDict_New();
    if (!slot_of)
        goto done;
    PyObject *last_thread = NULL;
    Contenders *slot = NULL;
    for (Py_ssize_t row = 0; row < count; row++) {
        if (kinds[row] != ROW_PLAIN)
            continue;
        PyObject *thread = PyList_GET_ITEM(threads, row);
        if (thread != last_thread) {
            /* Rows come by name, so a thread's rows nearly always follow one another (and
             * share one string): its slot is looked up again only when the thread changes. */
            if (!PyUnicode_Check(thread)) {
                PyErr_SetString(PyExc_TypeError, "plain_contenders: a PLAIN row has a thread");
                goto done;
            }
            PyObject *at = PyDict_GetItemWithError(slot_of, thread);
            if (!at && PyErr_Occurred())
                goto done;
            if (at) {
                slot = &found[PyLong_AsSsize_t(at)];
            } else {
                Contenders *grown = add_slot(slot_of, thread, found, sizeof(*found), seen, &cap);
                if (!grown)
                    goto done;
                found = grown;
                found[seen] = (Contenders){0, row, row};
                slot = &found[seen++];
            }
            last_thread = thread; /* borrowed: the list keeps it alive */
        }
        if (slot->files++ == 0)
            continue;
        PyObject *name = PyList_GET_ITEM(names, row);
        int64_t top = slot->by_embedded;
        int after = ranks_after(secs[row], nanos[row], secs[top], nanos[top], name,
                                PyList_GET_ITEM(names, top));
        if (after < 0)
            goto done;
        if (after)
            slot->by_embedded = row;
        top = slot->by_mtime;
        after = ranks_after(mtimes[row], 0, mtimes[top], 0, name, PyList_GET_ITEM(names, top));
        if (after < 0)
            goto done;
        if (after)
            slot->by_mtime = row;
    }
    result = PyDict_New();
    if (!result)
        goto done;
    PyObject *thread, *at;
    Py_ssize_t position = 0;
    while (PyDict_Next(slot_of, &position, &thread, &at)) {
        const Contenders *entry = &found[PyLong_AsSsize_t(at)];
        PyObject *value = Py_BuildValue("(LLL)", (long long)entry->files,
                                        (long long)entry->by_embedded, (long long)entry->by_mtime);
        if (!value || PyDict_SetItem(result, thread, value) != 0) {
            Py_XDECREF(value);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(value);
    }
done:
    for (int i = 0; i < held; i++)
        PyBuffer_Release(&buffers[i]);
    PyMem_Free(found);
    Py_XDECREF(slot_of);
    return result;
}
/* ---- end of index rebuild ------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(tables, root, header, event, bail_types, unusual_types, run_payloads): "
     "the schema and the rules of scan.py."},
    {"scan_message", (PyCFunction)(void (*)(void))scan_message, METH_FASTCALL,
     "scan_message(data, start, compressed) -> a Scanned or a Run (see scan.py), or None"},
    {"split_kcat", (PyCFunction)(void (*)(void))split_kcat, METH_FASTCALL,
     "split_kcat(buffer, at, end, cap, index, offset, block, most) -> the new at: appends "
     "the records that lie whole in buffer[at:end] to block (see formats/kcat.py)"},
    {"key_hashes", key_hashes, METH_O,
     "key_hashes(dicts) -> bytes: the hash of every key, as native int64 values"},
    {"shares_any", (PyCFunction)(void (*)(void))shares_any, METH_FASTCALL,
     "shares_any(a, b) -> bool: whether two int64 buffers hold a value in common"},
    {"scan_block", (PyCFunction)(void (*)(void))scan_block, METH_FASTCALL,
     "scan_block(records, cap, rules_from, unframed) -> [scan_record of each value, or None "
     "for a zstd frame]"},
    {"take_common", (PyCFunction)(void (*)(void))take_common, METH_FASTCALL,
     "take_common(threads, scans, start, future_us, remembered, dedup_window, seen_filter, "
     "previous_filter) -> (stop, remembered): sequences.take_common_python"},
    {"new_filter", new_filter, METH_NOARGS, "new_filter() -> an empty id filter"},
    {"filter_add", (PyCFunction)(void (*)(void))filter_add, METH_FASTCALL,
     "filter_add(filter, message_id): note an id put in a seen dict (see take_common)"},
    {"track_configure", (PyCFunction)(void (*)(void))track_configure, METH_FASTCALL,
     "track_configure(ThreadSummary): the slots take_common reads and writes"},
    {"scan_zstd", (PyCFunction)(void (*)(void))scan_zstd, METH_FASTCALL,
     "scan_zstd(records, scans, limit, unframed, rules_from, threshold, decompress, "
     "zstd_error): scan_record of the zstd frames scan_block left as None, in place"},
    {"read_checkpoints", (PyCFunction)(void (*)(void))read_checkpoints, METH_FASTCALL,
     "read_checkpoints(dir_fd, names, start, stop, row_of, columns, max_bytes, min_secs, "
     "max_secs) -> [rows left to the Python path]: fills the PLAIN rows of names[start:stop] "
     "in the columns (StoreRows.columns(); the file modes too unless that column is None); "
     "row_of is a dict of names to rows or the slots of row_table(names)"},
    {"stat_keys", (PyCFunction)(void (*)(void))stat_keys, METH_FASTCALL,
     "stat_keys(dir_fd, names, start, stop) -> bytes: (size, mtime_ns, mode) of each name as "
     "native int64 triples, (-1, -1, -1) where it cannot be stat-ed"},
    {"group_timed_rows", (PyCFunction)(void (*)(void))group_timed_rows, METH_FASTCALL,
     "group_timed_rows(threads, procs, secs, nanos, checkpoint_id, array) -> ({thread: "
     "latest row}, {(thread, proc): array('q') of its timed rows})"},
    {"parent_pass", (PyCFunction)(void (*)(void))parent_pass, METH_FASTCALL,
     "parent_pass(parent_rows, threads, secs, kinds, array) -> (rows left to Python, their "
     "first earlier siblings, (parent row, sibling, row) of each fork among the others)"},
    {"list_folder", (PyCFunction)(void (*)(void))list_folder, METH_FASTCALL,
     "list_folder(dir_fd, sort) -> (names of the regular files, sorted if sort, names of the "
     "other entries in listing order), or None when a name is not UTF-8"},
    {"list_sampled", (PyCFunction)(void (*)(void))list_sampled, METH_FASTCALL,
     "list_sampled(dir_fd, part, of, percent) -> (the plain names of regular files in the "
     "sample, sorted; the other regular files' names; the other entries' names; how many "
     "plain names were left out), or None when a name is not UTF-8"},
    {"xxh3_64", xxh3_64_of, METH_O, "xxh3_64(data) -> int: XXH3-64 of the bytes, seed 0"},
    {"row_table", row_table, METH_O,
     "row_table(names) -> bytes: the slots of the table names[i] -> i, or None when a name "
     "is not UTF-8"},
    {"counter_order_pass", (PyCFunction)(void (*)(void))counter_order_pass, METH_FASTCALL,
     "counter_order_pass(groups, latest, procs, counters, secs, nanos) -> [keys of the "
     "groups whose times may go back along their counters], or None (the twin looks at all)"},
    {"table_row", (PyCFunction)(void (*)(void))table_row, METH_FASTCALL,
     "table_row(slots, names, name) -> the row of name in row_table(names), or -1"},
    {"message_block", (PyCFunction)(void (*)(void))message_block, METH_FASTCALL,
     "message_block(messages, keys) -> [(offset, 0, value) of each message], or None when "
     "one is an error; keys (a dict) cleared, then offset -> key"},
    {"key_misfits", (PyCFunction)(void (*)(void))key_misfits, METH_FASTCALL,
     "key_misfits(block, scans, keys, homes, partition) -> [indexes of the scanned records "
     "whose key is not the thread_id, or whose thread's home is another partition]"},
    {"plain_contenders", (PyCFunction)(void (*)(void))plain_contenders, METH_FASTCALL,
     "plain_contenders(kinds, threads, names, secs, nanos, mtimes) -> {thread: (files, "
     "by_embedded_row, by_mtime_row)} of the PLAIN rows (see repair/scan_adapter.py)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_native",
    "DashStreamMessage wire scan for the validation hot path (see scan.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
    crc_init();
    return PyModule_Create(&module_def);
}

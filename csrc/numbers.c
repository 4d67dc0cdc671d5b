/* ipycache_ext.hashing._numbers: the pickle stream of a long list, tuple or dict of
   numbers, written without pickle's per-item dispatch.

   hashing/numbers.py hashes such a container as the bytes `pickle.dumps(value,
   protocol=5)` gives, fed to xxh3.  That stream is the digest's definition, the same
   on every machine, with or without this module; this module only writes the same
   bytes faster: an exact type check and a few bytes per item, where the C pickler
   dispatches on each item's type and looks at its memo.  So it must be byte for byte
   what CPython's _pickle writes (the tests compare the two over every shape):

   - PROTO 5, then frames: a FRAME opcode and an 8-byte length before each frame of
     four bytes or more; a frame is closed before an item's save begins once it holds
     64 KiB or more, and at the end after STOP;
   - a list: EMPTY_LIST MEMOIZE, then (one item) the item and APPEND, or batches of
     1000 items each between MARK and APPENDS;
   - a tuple of four items or more: MARK, the items, TUPLE, MEMOIZE;
   - a dict: EMPTY_DICT MEMOIZE, then (one pair) key, value, SETITEM, or batches of
     1000 pairs between MARK and SETITEMS, with one empty batch after a last full one;
   - None, True, False; an int as BININT1, BININT2, BININT or (up to 64 bits) LONG1;
     a float as BINFLOAT, its 8 bytes big-endian, NaN payloads and signs kept.

   Anything else (a subclass, a str, a nested container, an int past 64 bits) makes
   stream() return False, and the caller hashes the value with the pickler itself.  */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define FRAME_TARGET 65536
#define FRAME_HEADER 9
#define FRAME_MIN 4
#define BATCH 1000
/* Room for a frame that reached its target and one more item (LONG1 of 64 bits: 11). */
#define CAPACITY (FRAME_HEADER + FRAME_TARGET + 64)

typedef struct {
    unsigned char data[CAPACITY];
    Py_ssize_t len; /* bytes in data, the header's nine reserved included */
    PyObject *update;
} Out;

/* Hand the frame to update() (with its FRAME header if it holds four bytes or more)
   and start the next one. */
static int
flush(Out *out)
{
    Py_ssize_t size = out->len - FRAME_HEADER;
    if (size <= 0) {
        return 0;
    }
    unsigned char *start = out->data + FRAME_HEADER;
    if (size >= FRAME_MIN) {
        start = out->data;
        start[0] = 0x95; /* FRAME */
        uint64_t n = (uint64_t)size;
        for (int i = 0; i < 8; i++) {
            start[1 + i] = (unsigned char)(n >> (8 * i));
        }
    }
    PyObject *view = PyMemoryView_FromMemory((char *)start, out->data + out->len - start,
                                             PyBUF_READ);
    if (view == NULL) {
        return -1;
    }
    PyObject *result = PyObject_CallOneArg(out->update, view);
    /* update() must not keep the view: the buffer is reused for the next frame. */
    Py_DECREF(view);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    out->len = FRAME_HEADER;
    return 0;
}

static inline void
put(Out *out, unsigned char byte)
{
    out->data[out->len++] = byte;
}

static inline void
put_le(Out *out, uint64_t value, int count)
{
    for (int i = 0; i < count; i++) {
        out->data[out->len++] = (unsigned char)(value >> (8 * i));
    }
}

/* Save one item as pickle does; 1 when written, 0 when it is not a number this module
   writes, -1 on an error. */
static int write_number(Out *out, PyObject *item);

static int
save_number(Out *out, PyObject *item)
{
    /* Held: update() may run Python code that drops the container's reference. */
    Py_INCREF(item);
    int done = out->len - FRAME_HEADER >= FRAME_TARGET ? flush(out) : 0;
    if (done == 0) {
        done = write_number(out, item);
    }
    Py_DECREF(item);
    return done;
}

static int
write_number(Out *out, PyObject *item)
{
    PyTypeObject *type = Py_TYPE(item);
    if (item == Py_None) {
        put(out, 'N');
        return 1;
    }
    if (type == &PyBool_Type) {
        put(out, item == Py_True ? 0x88 : 0x89);
        return 1;
    }
    if (type == &PyFloat_Type) {
        put(out, 'G');
        if (PyFloat_Pack8(PyFloat_AS_DOUBLE(item), (char *)out->data + out->len, 0) < 0) {
            return -1;
        }
        out->len += 8;
        return 1;
    }
    if (type != &PyLong_Type) {
        return 0;
    }
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (overflow) {
        return 0;
    }
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (value >= 0 && value <= 0xff) {
        put(out, 'K');
        put_le(out, (uint64_t)value, 1);
    }
    else if (value >= 0 && value <= 0xffff) {
        put(out, 'M');
        put_le(out, (uint64_t)value, 2);
    }
    else if (value >= -0x80000000LL && value <= 0x7fffffffLL) {
        put(out, 'J');
        put_le(out, (uint64_t)value, 4);
    }
    else {
        /* LONG1: the bits of |value|, plus a sign bit, in whole bytes, little-endian
           two's complement; a negative number whose top byte is only sign bits loses it. */
        uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
        int bits = 0;
        while (magnitude) {
            bits++;
            magnitude >>= 1;
        }
        int count = (bits >> 3) + 1;
        if (count > 8) {
            count = 9; /* -2**63 needs the ninth byte only as 0xff, dropped below */
        }
        unsigned char bytes[9];
        for (int i = 0; i < count; i++) {
            bytes[i] = i < 8 ? (unsigned char)((uint64_t)value >> (8 * i))
                             : (unsigned char)(value < 0 ? 0xff : 0x00);
        }
        if (value < 0 && count > 1 && bytes[count - 1] == 0xff && (bytes[count - 2] & 0x80)) {
            count--;
        }
        put(out, 0x8a);
        put(out, (unsigned char)count);
        memcpy(out->data + out->len, bytes, (size_t)count);
        out->len += count;
    }
    return 1;
}

/* The items of a list or tuple, by index: update() may release the GIL, and another
   thread change the list meanwhile (each item is held while it is saved; a list that
   changed size is declined after its batch). */
static int
save_items(Out *out, PyObject *sequence, Py_ssize_t start, Py_ssize_t stop)
{
    for (Py_ssize_t i = start; i < stop; i++) {
        PyObject *item = PySequence_Fast_GET_SIZE(sequence) > i
                             ? PySequence_Fast_GET_ITEM(sequence, i)
                             : NULL;
        if (item == NULL) {
            return 0;
        }
        int done = save_number(out, item);
        if (done <= 0) {
            return done;
        }
    }
    return 1;
}

static int
save_list(Out *out, PyObject *list)
{
    put(out, ']');
    put(out, 0x94);
    Py_ssize_t size = PyList_GET_SIZE(list);
    if (size == 0) {
        return 1;
    }
    if (size == 1) {
        int done = save_items(out, list, 0, 1);
        if (done > 0) {
            put(out, 'a');
        }
        return done;
    }
    Py_ssize_t total = 0;
    do {
        put(out, '(');
        Py_ssize_t stop = total + BATCH < size ? total + BATCH : size;
        int done = save_items(out, list, total, stop);
        if (done <= 0) {
            return done;
        }
        total = stop;
        put(out, 'e');
        if (PyList_GET_SIZE(list) != size) {
            return 0;
        }
    } while (total < size);
    return 1;
}

static int
save_tuple(Out *out, PyObject *tuple)
{
    if (PyTuple_GET_SIZE(tuple) < 4) {
        return 0; /* EMPTY_TUPLE, TUPLE1-3: short tuples take the general paths */
    }
    put(out, '(');
    int done = save_items(out, tuple, 0, PyTuple_GET_SIZE(tuple));
    if (done > 0) {
        put(out, 't');
        put(out, 0x94);
    }
    return done;
}

/* A key and its value, both held first: saving the key may run update(), which may
   release the GIL, and the dict could drop the value meanwhile. */
static int
save_pair(Out *out, PyObject *key, PyObject *value)
{
    Py_INCREF(key);
    Py_INCREF(value);
    int done = save_number(out, key);
    if (done > 0) {
        done = save_number(out, value);
    }
    Py_DECREF(key);
    Py_DECREF(value);
    return done;
}

static int
save_dict(Out *out, PyObject *dict)
{
    put(out, '}');
    put(out, 0x94);
    Py_ssize_t size = PyDict_GET_SIZE(dict);
    Py_ssize_t position = 0;
    PyObject *key, *value;
    int done;
    if (size == 0) {
        return 1;
    }
    if (size == 1) {
        PyDict_Next(dict, &position, &key, &value);
        if ((done = save_pair(out, key, value)) <= 0) {
            return done;
        }
        put(out, 's');
        return 1;
    }
    int batch;
    do {
        batch = 0;
        put(out, '(');
        while (PyDict_Next(dict, &position, &key, &value)) {
            if ((done = save_pair(out, key, value)) <= 0) {
                return done;
            }
            if (++batch == BATCH) {
                break;
            }
        }
        put(out, 'u');
        if (PyDict_GET_SIZE(dict) != size) {
            return 0;
        }
    } while (batch == BATCH);
    return 1;
}

PyDoc_STRVAR(stream_doc,
"stream(value, update) -> bool\n--\n\n"
"Call update() with the bytes of pickle.dumps(value, protocol=5), in pieces, for an\n"
"exact list, dict or tuple (of four or more) holding only exact ints of up to 64 bits,\n"
"floats, bools and None; True when it did. False, perhaps after some pieces, for any\n"
"other value: hash that with the pickler. Each piece is a memoryview valid only\n"
"during the call.");

static PyObject *
stream(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "stream(value, update) takes 2 arguments");
        return NULL;
    }
    PyObject *value = args[0];
    if (!PyCallable_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "stream(): update must be callable");
        return NULL;
    }
    PyTypeObject *type = Py_TYPE(value);
    if (type != &PyList_Type && type != &PyTuple_Type && type != &PyDict_Type) {
        Py_RETURN_FALSE;
    }
    Out *out = PyMem_Malloc(sizeof(Out));
    if (out == NULL) {
        return PyErr_NoMemory();
    }
    out->update = args[1];
    out->len = FRAME_HEADER;
    PyObject *header = PyBytes_FromStringAndSize("\x80\x05", 2); /* PROTO 5 */
    PyObject *result = header == NULL ? NULL : PyObject_CallOneArg(out->update, header);
    Py_XDECREF(header);
    int done = -1;
    if (result != NULL) {
        Py_DECREF(result);
        Py_INCREF(value); /* kept alive while update() runs */
        done = type == &PyList_Type    ? save_list(out, value)
               : type == &PyTuple_Type ? save_tuple(out, value)
                                       : save_dict(out, value);
        Py_DECREF(value);
        if (done > 0) {
            put(out, '.'); /* STOP */
            if (flush(out) < 0) {
                done = -1;
            }
        }
    }
    PyMem_Free(out);
    if (done < 0) {
        return NULL;
    }
    return PyBool_FromLong(done);
}

static PyMethodDef methods[] = {
    {"stream", (PyCFunction)(void (*)(void))stream, METH_FASTCALL, stream_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "ipycache_ext.hashing._numbers",
    .m_doc = "pickle.dumps(value, protocol=5) of a container of numbers, fast: see numbers.py.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__numbers(void)
{
    return PyModule_Create(&module_def);
}

/* ipycache_ext.deps._audit: the process's one audit hook, compiled.

   Once any audit hook is installed, every audited operation in the process (each
   open(), each import) pays for it, and a hook cannot be removed.  A hook written in
   Python is the dear kind: before each call CPython makes a str of the event's name,
   iterates the hooks, looks each up for __cantrace__ and calls it, about 5 % of an
   open()+read() of a small file.  A C hook is called with the event's name as a C
   string, so this one decides with a few string comparisons and calls the Python
   hook (deps/usercode.py's _on_audit) only for the events it needs:

   - the events named by install(), always (a change of directory, an assignment to a
     function's code: rare);
   - the events named by route(), while the list given with them is not empty (a miss
     is recording the files it reads).

   Everything else returns at once.  Where this module is not built, usercode.py
   installs the same hook in Python, with the same decisions.  */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_NAMES 48
#define MAX_NAME 64

typedef struct {
    char names[MAX_NAMES][MAX_NAME];
    int count;
} Names;

static PyObject *forward_to = NULL; /* the Python hook: callable(event, args) */
static PyObject *active = NULL;     /* a list: `routed` events go on while not empty */
static Names always;
static Names routed;
static PyInterpreterState *owner = NULL; /* the interpreter whose objects these are */

static int
listed(const Names *names, const char *event)
{
    for (int i = 0; i < names->count; i++) {
        if (strcmp(names->names[i], event) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
hook(const char *event, PyObject *args, void *data)
{
    (void)data;
    if (forward_to == NULL) {
        return 0;
    }
    if (!listed(&always, event)) {
        if (active == NULL || PyList_GET_SIZE(active) == 0 || !listed(&routed, event)) {
            return 0;
        }
    }
    PyThreadState *tstate = PyThreadState_Get();
    if (PyThreadState_GetInterpreter(tstate) != owner) {
        return 0;
    }
    PyObject *name = PyUnicode_FromString(event);
    if (name == NULL) {
        return -1;
    }
    /* As CPython calls a Python hook: not traced, so a debugger or coverage run does
       not step into it. */
    PyThreadState_EnterTracing(tstate);
    PyObject *result = PyObject_CallFunctionObjArgs(forward_to, name, args, NULL);
    PyThreadState_LeaveTracing(tstate);
    Py_DECREF(name);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

/* Copy the str items of an iterable into `into`; -1 with an exception set if one is
   not a str, is too long, or there are too many. */
static int
copy_names(PyObject *iterable, Names *into)
{
    Names found;
    found.count = 0;
    PyObject *iterator = PyObject_GetIter(iterable);
    if (iterator == NULL) {
        return -1;
    }
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        Py_ssize_t size;
        const char *text = PyUnicode_Check(item) ? PyUnicode_AsUTF8AndSize(item, &size) : NULL;
        if (text == NULL || size >= MAX_NAME || found.count >= MAX_NAMES) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_ValueError,
                             "audit event names must be at most %d str of under %d bytes",
                             MAX_NAMES, MAX_NAME);
            }
            Py_DECREF(item);
            Py_DECREF(iterator);
            return -1;
        }
        memcpy(found.names[found.count], text, (size_t)size + 1);
        found.count++;
        Py_DECREF(item);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        return -1;
    }
    *into = found;
    return 0;
}

PyDoc_STRVAR(install_doc,
"install(forward_to, always)\n--\n\n"
"Install the hook (once per process; later calls change what it forwards): it calls\n"
"forward_to(event, args) for each event named in always.");

static PyObject *
install(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "install(forward_to, always) takes 2 arguments");
        return NULL;
    }
    if (!PyCallable_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "install(): forward_to must be callable");
        return NULL;
    }
    Names names;
    if (copy_names(args[1], &names) < 0) {
        return NULL;
    }
    int first = forward_to == NULL;
    Py_INCREF(args[0]);
    Py_XSETREF(forward_to, args[0]);
    always = names;
    if (first) {
        owner = PyInterpreterState_Get();
        if (PySys_AddAuditHook(hook, NULL) < 0) {
            Py_CLEAR(forward_to);
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(route_doc,
"route(events, active)\n--\n\n"
"Also forward the events named in events, while the list active is not empty.");

static PyObject *
route(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "route(events, active) takes 2 arguments");
        return NULL;
    }
    if (!PyList_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "route(): active must be a list");
        return NULL;
    }
    Names names;
    if (copy_names(args[0], &names) < 0) {
        return NULL;
    }
    Py_INCREF(args[1]);
    Py_XSETREF(active, args[1]);
    routed = names;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"install", (PyCFunction)(void (*)(void))install, METH_FASTCALL, install_doc},
    {"route", (PyCFunction)(void (*)(void))route, METH_FASTCALL, route_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "ipycache_ext.deps._audit",
    .m_doc = "The process's one audit hook, compiled: see usercode.py beside it.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__audit(void)
{
    return PyModule_Create(&module_def);
}

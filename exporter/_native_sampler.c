/* The power sampler's reading loop in C, for sources that are a fixed set of value files.
 *
 * Why: at 100-200 Hz a Python thread pays for every wake-up (the interpreter's state is cold
 * again after each 10 ms sleep), which on a small board or a VM is most of the sampler's cost.
 * This thread never takes the GIL: on an absolute CLOCK_MONOTONIC grid it re-reads each kept
 * descriptor with pread at offset 0 (sysfs renders a fresh value on every read), parses the
 * number and stores (time, values, failed-mask) in a bounded buffer. Python drains the buffer
 * once a second, and whenever a scrape or /samples needs the newest samples, and integrates
 * there (exporter/integrator.py). The time is CLOCK_MONOTONIC, the clock of time.monotonic().
 *
 * Sampler(paths, period_seconds, capacity): opens the files (OSError naming the path if one
 * cannot be opened), start() starts the thread, drain() returns
 * (times: bytes of doubles, values: bytes of doubles, n per sample, failed: bytes of uint64
 * masks, dropped: int) and stop() ends the thread and closes the files. A full buffer drops
 * its oldest sample and counts it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 64 /* one bit each in a sample's failed mask */
#define VALUE_SIZE 64
#define MIN_PERIOD 1e-4 /* 10 kHz: far above any sensor; below, the loop would spin */
#define MAX_PERIOD 60.0
#define MAX_CAPACITY 1000000 /* samples: keeps capacity x 64 files x 8 bytes within a 32-bit size */

typedef struct {
    PyObject_HEAD
    int nfiles; /* files open now (0 once stopped) */
    int width;  /* values per sample, for the buffer's whole life */
    int fds[MAX_FILES];
    int64_t period_ns;
    Py_ssize_t capacity; /* samples */
    double *times;
    double *values; /* capacity x width */
    uint64_t *failed;
    Py_ssize_t head, count; /* oldest sample's slot, samples held */
    long long dropped;
    pthread_mutex_t lock;
    int lock_ready;
    pthread_t thread;
    int started;
    atomic_int stopping;
} Sampler;

static int parse_value(const char *buf, ssize_t n, double *out) {
    char text[VALUE_SIZE + 1], *end;
    if (n <= 0 || n >= VALUE_SIZE) return -1; /* unreadable, empty, or longer than any number */
    /* the common case, an integer and a newline (what the drivers write), without strtod */
    ssize_t i = 0;
    int negative = buf[0] == '-';
    if (negative || buf[0] == '+') i = 1;
    long long whole = 0;
    ssize_t first = i;
    while (i < n && buf[i] >= '0' && buf[i] <= '9' && i - first < 18) whole = whole * 10 + (buf[i++] - '0');
    if (i > first && (i == n || (buf[i] == '\n' && i + 1 == n))) {
        *out = negative ? -(double)whole : (double)whole; /* "-0" is -0.0, as float() reads it */
        return 0;
    }
    /* otherwise what Python's float() takes of a sysfs value: no hex, no NUL inside */
    for (ssize_t k = 0; k < n; k++) {
        if (buf[k] == '\0' || buf[k] == 'x' || buf[k] == 'X') return -1;
    }
    memcpy(text, buf, (size_t)n);
    text[n] = '\0';
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || !isfinite(v)) return -1;
    if (errno == ERANGE && fabs(v) >= 1.0) return -1; /* overflow; an underflow is the tiny number */
    while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r') end++;
    if (*end != '\0') return -1;
    *out = v;
    return 0;
}

static void add_ns(struct timespec *t, int64_t ns) {
    int64_t nsec = (int64_t)t->tv_nsec + ns % 1000000000;
    t->tv_sec += (time_t)(ns / 1000000000 + nsec / 1000000000);
    t->tv_nsec = (long)(nsec % 1000000000);
}

static int before(const struct timespec *a, const struct timespec *b) {
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *run(void *arg) {
    Sampler *s = (Sampler *)arg;
    struct timespec due, now;
    double values[MAX_FILES];
    char buf[VALUE_SIZE];
    /* signals are the interpreter's main thread's business: none interrupts a read here */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    /* let the kernel fold this wake-up into a nearby one, within a fiftieth of the period: the
     * samples carry the times they were read at, so the integral stays exact */
    prctl(PR_SET_TIMERSLACK, (unsigned long)(s->period_ns / 50), 0, 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &due);
    while (!atomic_load(&s->stopping)) {
        uint64_t failed = 0;
        for (int i = 0; i < s->nfiles; i++) {
            ssize_t n = pread(s->fds[i], buf, VALUE_SIZE, 0);
            if (parse_value(buf, n, &values[i]) != 0) {
                failed |= (uint64_t)1 << i;
                values[i] = NAN;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&s->lock);
        if (s->count == s->capacity) { /* nobody drained: drop the oldest */
            s->head = (s->head + 1) % s->capacity;
            s->count--;
            s->dropped++;
        }
        Py_ssize_t slot = (s->head + s->count) % s->capacity;
        s->times[slot] = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
        memcpy(&s->values[slot * s->width], values, sizeof(double) * (size_t)s->width);
        s->failed[slot] = failed;
        s->count++;
        pthread_mutex_unlock(&s->lock);
        /* keep the grid; after a stall skip the missed slots instead of bursting */
        add_ns(&due, s->period_ns);
        if (before(&due, &now)) due = now;
        while (!atomic_load(&s->stopping) && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR) {
        }
    }
    return NULL;
}

static void close_files(Sampler *s) {
    for (int i = 0; i < s->nfiles; i++) {
        if (s->fds[i] >= 0) close(s->fds[i]);
        s->fds[i] = -1;
    }
    s->nfiles = 0;
}

static void stop_thread(Sampler *s) {
    if (!s->started) return;
    pthread_t thread = s->thread;
    s->started = 0; /* before the GIL is let go: a second stop() joins nothing */
    atomic_store(&s->stopping, 1);
    Py_BEGIN_ALLOW_THREADS pthread_join(thread, NULL);
    Py_END_ALLOW_THREADS
}

static void free_buffers(Sampler *s) {
    PyMem_RawFree(s->times);
    PyMem_RawFree(s->values);
    PyMem_RawFree(s->failed);
    s->times = NULL;
    s->values = NULL;
    s->failed = NULL;
}

static int Sampler_init(Sampler *s, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"paths", "period", "capacity", NULL};
    PyObject *paths, *seq;
    double period;
    Py_ssize_t capacity;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Odn", kwlist, &paths, &period, &capacity)) return -1;
    if (s->lock_ready || s->times != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Sampler already initialised");
        return -1;
    }
    if (!(period >= MIN_PERIOD && period <= MAX_PERIOD) || capacity < 2 || capacity > MAX_CAPACITY) {
        PyErr_Format(PyExc_ValueError, "period must be in [%g, %g] s and capacity in [2, %d] samples", MIN_PERIOD,
                     MAX_PERIOD, MAX_CAPACITY);
        return -1;
    }
    if (PyUnicode_Check(paths) || PyBytes_Check(paths)) {
        PyErr_SetString(PyExc_TypeError, "paths must be a sequence of paths, not one path");
        return -1;
    }
    seq = PySequence_Tuple(paths); /* a copy: a path's __fspath__ cannot change it under us */
    if (seq == NULL) return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    if (n < 1 || n > MAX_FILES) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "between 1 and %d paths", MAX_FILES);
        return -1;
    }
    s->nfiles = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *encoded;
        if (!PyUnicode_FSConverter(PyTuple_GET_ITEM(seq, i), &encoded)) {
            close_files(s);
            Py_DECREF(seq);
            return -1;
        }
        int fd = open(PyBytes_AS_STRING(encoded), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, PyTuple_GET_ITEM(seq, i));
            Py_DECREF(encoded);
            close_files(s);
            Py_DECREF(seq);
            return -1;
        }
        Py_DECREF(encoded);
        s->fds[s->nfiles++] = fd;
    }
    Py_DECREF(seq);
    s->width = s->nfiles;
    s->period_ns = (int64_t)(period * 1e9);
    s->capacity = capacity;
    s->times = PyMem_RawCalloc((size_t)capacity, sizeof(double));
    s->values = PyMem_RawCalloc((size_t)capacity * (size_t)s->width, sizeof(double));
    s->failed = PyMem_RawCalloc((size_t)capacity, sizeof(uint64_t));
    if (s->times == NULL || s->values == NULL || s->failed == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
        free_buffers(s);
        close_files(s);
        PyErr_NoMemory();
        return -1;
    }
    s->lock_ready = 1;
    return 0;
}

static PyObject *Sampler_start(Sampler *s, PyObject *unused) {
    if (!s->lock_ready || s->nfiles == 0) {
        PyErr_SetString(PyExc_RuntimeError, "Sampler stopped or not initialised");
        return NULL;
    }
    if (!s->started) {
        atomic_store(&s->stopping, 0);
        int err = pthread_create(&s->thread, NULL, run, s);
        if (err != 0) {
            errno = err;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        s->started = 1;
    }
    Py_RETURN_NONE;
}

static PyObject *Sampler_drain(Sampler *s, PyObject *unused) {
    if (!s->lock_ready) {
        PyErr_SetString(PyExc_RuntimeError, "Sampler not initialised");
        return NULL;
    }
    int k = s->width;
    pthread_mutex_lock(&s->lock);
    Py_ssize_t count = s->count;
    PyObject *times = PyBytes_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(double));
    PyObject *values = PyBytes_FromStringAndSize(NULL, count * k * (Py_ssize_t)sizeof(double));
    PyObject *failed = PyBytes_FromStringAndSize(NULL, count * (Py_ssize_t)sizeof(uint64_t));
    if (times == NULL || values == NULL || failed == NULL) {
        pthread_mutex_unlock(&s->lock);
        Py_XDECREF(times);
        Py_XDECREF(values);
        Py_XDECREF(failed);
        return NULL;
    }
    double *t = (double *)PyBytes_AS_STRING(times), *v = (double *)PyBytes_AS_STRING(values);
    uint64_t *f = (uint64_t *)PyBytes_AS_STRING(failed);
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t slot = (s->head + i) % s->capacity;
        t[i] = s->times[slot];
        memcpy(&v[i * k], &s->values[slot * k], sizeof(double) * (size_t)k);
        f[i] = s->failed[slot];
    }
    s->head = (s->head + count) % s->capacity;
    s->count = 0;
    long long dropped = s->dropped;
    s->dropped = 0;
    pthread_mutex_unlock(&s->lock);
    return Py_BuildValue("(NNNL)", times, values, failed, dropped);
}

static PyObject *Sampler_stop(Sampler *s, PyObject *unused) {
    stop_thread(s);
    close_files(s);
    Py_RETURN_NONE;
}

static void Sampler_dealloc(Sampler *s) {
    stop_thread(s);
    close_files(s);
    if (s->lock_ready) pthread_mutex_destroy(&s->lock);
    free_buffers(s);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyObject *Sampler_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    Sampler *s = (Sampler *)type->tp_alloc(type, 0);
    if (s != NULL) {
        for (int i = 0; i < MAX_FILES; i++) s->fds[i] = -1;
    }
    return (PyObject *)s;
}

static PyMethodDef Sampler_methods[] = {
    {"start", (PyCFunction)Sampler_start, METH_NOARGS, "Start the reading thread."},
    {"drain", (PyCFunction)Sampler_drain, METH_NOARGS,
     "(times, values, failed masks, dropped) of the samples taken since the last drain."},
    {"stop", (PyCFunction)Sampler_stop, METH_NOARGS, "End the thread and close the files."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SamplerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "edgemeter.exporter._native_sampler.Sampler",
    .tp_basicsize = sizeof(Sampler),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reads a fixed set of value files on a grid, on a thread of its own.",
    .tp_new = Sampler_new,
    .tp_init = (initproc)Sampler_init,
    .tp_dealloc = (destructor)Sampler_dealloc,
    .tp_methods = Sampler_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native_sampler", "The power sampler's reading loop in C.", -1, NULL,
};

PyMODINIT_FUNC PyInit__native_sampler(void) {
    if (PyType_Ready(&SamplerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&SamplerType);
    if (PyModule_AddObject(m, "Sampler", (PyObject *)&SamplerType) < 0) {
        Py_DECREF(&SamplerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/*
 * main.c — the `iotlua` host: Lua 5.4 with the iotlua module and lua-cjson preloaded.
 *
 *   iotlua [options] [script [args]]
 *
 * It behaves like the stock `lua` interpreter: -e runs a statement, -l requires a module,
 * `-` runs stdin, the global `arg` holds the arguments (arg[0] is the script, negative
 * indices the interpreter's own arguments), and with no script on a terminal it starts a
 * read-eval-print loop. Everything runs under lua_pcall with a traceback handler, so every
 * error, even one during start-up, is reported the same way: one line "iotlua: <message>"
 * followed by the traceback on stderr, and exit status 1.
 *
 * After the script returns, the host lets the tasks it spawned run to completion
 * (iotlua's run()); a task that failed without anybody retrieving its error also makes
 * the exit status 1. With --deadline, a run that ends after its deadline (the host's or
 * an earlier one set by iotlua.deadline) exits with status 124 whatever else happened,
 * and one that has not ended --deadline-grace seconds later is stopped with 124 (see
 * deadline.h); os.exit keeps its own status. Start-up does nothing but open the standard libraries and register
 * the preloads: the module itself is loaded by the first require.
 */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bindings.h"
#include "deadline.h"
#include "lua_alloc.h"

#ifndef IOTLUA_VERSION
#define IOTLUA_VERSION "0.0.0"
#endif

int luaopen_cjson(lua_State *L);      /* lua-cjson has no header */

static const char *progname = "iotlua";

enum {
    HAS_E = 1,      /* -e or -l given: no REPL, no stdin script */
    HAS_V = 2,      /* -v given */
    HAS_H = 4,      /* -h given */
    HAS_ERROR = 8,  /* bad option */
};

struct options {
    int flags;
    int quiet;
    const char *log_format, *log_level;     /* --log-format, --log-level, or NULL */
    double deadline, deadline_grace;        /* --deadline (0: none), --deadline-grace */
    int script;     /* index in argv of the script, or argc when none */
    int bad;        /* index in argv of a bad option */
};

/* ---------------------------------------------------------------- reporting */

static void print_usage(FILE *out, const char *badoption)
{
    if (badoption && (badoption[1] == 'e' || badoption[1] == 'l') && badoption[2] == '\0')
        fprintf(out, "%s: '%s' needs an argument\n", progname, badoption);
    else if (badoption && strncmp(badoption, "--deadline", 10) == 0)
        fprintf(out, "%s: '%s' needs a number of seconds > 0\n", progname, badoption);
    else if (badoption && strncmp(badoption, "--log-", 6) == 0)
        fprintf(out, "%s: '%s' needs one of: %s\n", progname, badoption,
                badoption[6] == 'f' ? "text, json" : "debug, info, warn, error");
    else if (badoption)
        fprintf(out, "%s: unrecognized option '%s'\n", progname, badoption);
    fprintf(out,
            "usage: %s [options] [script [args]]\n"
            "Available options are:\n"
            "  -e stat       execute string 'stat'\n"
            "  -l mod        require library 'mod' into global 'mod'\n"
            "  -v, --version show version information\n"
            "  -h, --help    show this help\n"
            "  --quiet       no progress display for iotlua.map\n"
            "  --log-format F  iotlua.log lines as 'text' (default) or 'json'\n"
            "  --log-level L   iotlua.log's least level: debug, info (default), warn, error\n"
            "  --deadline S    end the run's calls S seconds from now (TimeoutError), stop\n"
            "                  iotlua.map there; the exit status is then 124\n"
            "  --deadline-grace G  stop the process G seconds after the deadline if the\n"
            "                  script has not ended by then (default 10)\n"
            "  --            stop handling options\n"
            "  -             stop handling options and execute stdin\n"
            "With no script, a terminal on stdin starts an interactive session and\n"
            "anything else is read as a script.\n",
            progname);
}

static void print_version(void)
{
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    printf("iotlua %s\n", IOTLUA_VERSION);
    printf("%s, libcurl %s, %s\n", LUA_RELEASE, curl ? curl->version : "?",
           OpenSSL_version(OPENSSL_VERSION));
    fflush(stdout);
}

/* Writes the error message on top of the stack, prefixed with the program name. */
static void report_message(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    if (!msg)
        msg = "(error object is not a string)";
    fprintf(stderr, "%s: %s\n", progname, msg);
    fflush(stderr);
}

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        report_message(L);
        lua_pop(L, 1);
    }
    return status;
}

/*
 * Message handler: turns any error value into a string (an error table through its
 * __tostring) and appends a traceback. A task's error re-raised by the script (iotlua's
 * task errors carry the task's own traceback in the raw field "traceback") shows that
 * traceback too. [-1, +1]
 */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
        if (lua_type(L, 1) == LUA_TTABLE) {
            lua_pushliteral(L, "traceback");
            if (lua_rawget(L, 1) == LUA_TSTRING)
                msg = lua_pushfstring(L, "%s\nin the task: %s", msg, lua_tostring(L, -1));
        }
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/* Calls the function below the narg arguments on the stack with the traceback handler. */
static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    int status = lua_pcall(L, narg, nres, base);
    lua_remove(L, base);
    return status;
}

/* ---------------------------------------------------------------- arguments */

/* Builds the global `arg`: arg[0] = script, script args positive, the rest negative. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
    if (script == argc)
        script = 0;
    lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* Pushes the script's own arguments (those after the script name); returns how many. */
static int push_script_args(lua_State *L)
{
    if (lua_getglobal(L, "arg") != LUA_TTABLE)
        luaL_error(L, "'arg' is not a table");
    int n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (int i = 1; i <= n; i++)
        lua_rawgeti(L, -i, i);
    lua_remove(L, -n - 1);
    return n;
}

/* 1 when value is one --log-format or --log-level takes. */
static int log_value_valid(const char *option, const char *value)
{
    static const char *const FORMATS[] = {"text", "json", NULL};
    static const char *const LEVELS[] = {"debug", "info", "warn", "error", NULL};
    const char *const *ok = option[6] == 'f' ? FORMATS : LEVELS;
    for (; *ok; ok++)
        if (strcmp(*ok, value) == 0)
            return 1;
    return 0;
}

/* Scans the options; the script index is argc when there is none. */
static void collect_options(char **argv, int argc, struct options *opt_out)
{
    opt_out->flags = 0;
    opt_out->quiet = 0;
    opt_out->log_format = opt_out->log_level = NULL;
    opt_out->deadline = 0;
    opt_out->deadline_grace = HOST_DEADLINE_GRACE_S;
    opt_out->script = argc;
    opt_out->bad = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            opt_out->script = i;
            return;
        }
        if (strcmp(a, "-") == 0) {
            opt_out->script = i;
            return;
        }
        if (strcmp(a, "--") == 0) {
            opt_out->script = i + 1 < argc ? i + 1 : argc;
            return;
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            opt_out->flags |= HAS_V;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            opt_out->flags |= HAS_H;
        } else if (strcmp(a, "--quiet") == 0) {
            opt_out->quiet = 1;
        } else if (strcmp(a, "--log-format") == 0 || strcmp(a, "--log-level") == 0) {
            if (i + 1 >= argc || !log_value_valid(a, argv[i + 1])) {
                opt_out->flags |= HAS_ERROR;
                opt_out->bad = i;
                return;
            }
            if (a[6] == 'f')
                opt_out->log_format = argv[++i];
            else
                opt_out->log_level = argv[++i];
        } else if (strcmp(a, "--deadline") == 0 || strcmp(a, "--deadline-grace") == 0) {
            double *value = a[10] ? &opt_out->deadline_grace : &opt_out->deadline;
            if (i + 1 >= argc || host_seconds_parse(argv[i + 1], value) != 0) {
                opt_out->flags |= HAS_ERROR;
                opt_out->bad = i;
                return;
            }
            i++;
        } else if (a[1] == 'e' || a[1] == 'l') {
            opt_out->flags |= HAS_E;
            if (a[2] == '\0' && (i + 1 >= argc || argv[i + 1][0] == '-')) {
                opt_out->flags |= HAS_ERROR;
                opt_out->bad = i;
                return;
            }
            if (a[2] == '\0')
                i++;
        } else {
            opt_out->flags |= HAS_ERROR;
            opt_out->bad = i;
            return;
        }
    }
}

/* ---------------------------------------------------------------- running chunks */

static int dochunk(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = docall(L, 0, 0);
    return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name)
{
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* require(name) and store the result in the global of the same name. */
static int dolibrary(lua_State *L, const char *name)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    int status = docall(L, 1, 1);
    if (status == LUA_OK)
        lua_setglobal(L, name);
    return report(L, status);
}

/* Runs the -e and -l options in order. */
static int run_early_options(lua_State *L, char **argv, int script)
{
    for (int i = 1; i < script; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l'))
            continue;
        const char *val = a[2] ? a + 2 : argv[++i];
        int status = a[1] == 'e' ? dostring(L, val, "=(command line)") : dolibrary(L, val);
        if (status != LUA_OK)
            return 0;
    }
    return 1;
}

static int handle_script(lua_State *L, char **argv, int script)
{
    const char *fname = argv[script];
    if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0)
        fname = NULL;
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = push_script_args(L);
        status = docall(L, n, 0);
    }
    return report(L, status);
}

/* ---------------------------------------------------------------- the interactive loop */

#define REPL_MAXLINE 4096

static int read_line(lua_State *L, int first)
{
    char line[REPL_MAXLINE];
    fputs(first ? "> " : ">> ", stdout);
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL)
        return 0;
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\n')
        line[--len] = '\0';
    lua_pushlstring(L, line, len);
    return 1;
}

/* Incomplete chunk: the parser stopped at <eof>. Pops the message when true. */
static int incomplete(lua_State *L, int status)
{
    static const char mark[] = "<eof>";
    size_t len;
    if (status != LUA_ERRSYNTAX)
        return 0;
    const char *msg = lua_tolstring(L, -1, &len);
    if (len >= sizeof mark - 1 && strcmp(msg + len - (sizeof mark - 1), mark) == 0) {
        lua_pop(L, 1);
        return 1;
    }
    return 0;
}

/* Line on top; tries "return <line>" first so expressions print their value. */
static int try_expression(lua_State *L)
{
    const char *line = lua_tostring(L, -1);
    const char *ret = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
    if (status == LUA_OK)
        lua_remove(L, -2);  /* the "return" string; the line stays below the chunk */
    else
        lua_pop(L, 2);      /* the error and the "return" string */
    return status;
}

/* Line on top; reads more lines while the chunk is incomplete. Leaves the chunk. */
static int try_statement(lua_State *L)
{
    for (;;) {
        size_t len;
        const char *code = lua_tolstring(L, 1, &len);
        int status = luaL_loadbuffer(L, code, len, "=stdin");
        if (!incomplete(L, status) || !read_line(L, 0))
            return status;
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

/* Reads one input and compiles it; leaves the chunk (or an error) on top. -1 at EOF. */
static int load_line(lua_State *L)
{
    lua_settop(L, 0);
    if (!read_line(L, 1))
        return -1;
    int status = try_expression(L);
    if (status != LUA_OK)
        status = try_statement(L);
    lua_remove(L, 1);
    return status;
}

/* Prints the values left on the stack through the global print. */
static void print_results(lua_State *L)
{
    int n = lua_gettop(L);
    if (n == 0)
        return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK) {
        lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1));
        report_message(L);
        lua_pop(L, 2);
    }
}

static void do_repl(lua_State *L)
{
    int status;
    while ((status = load_line(L)) != -1) {
        if (status == LUA_OK)
            status = docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK) {
            print_results(L);
        } else {
            fprintf(stderr, "%s\n", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
            fflush(stderr);
        }
    }
    lua_settop(L, 0);
    fputc('\n', stdout);
    fflush(stdout);
}

/* ---------------------------------------------------------------- tasks left running */

/*
 * If the script loaded iotlua, lets its remaining tasks finish. Returns 0 when all is well,
 * 1 when this failed or a task's error was never retrieved.
 */
static int finish_tasks(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    int type = lua_getfield(L, -1, "iotlua");
    lua_remove(L, -2);
    if (type != LUA_TTABLE) {
        lua_pop(L, 1);
        return 0;
    }
    lua_getfield(L, -1, "_finish");
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    if (report(L, docall(L, 0, 1)) != LUA_OK)
        return 1;
    int failed = lua_toboolean(L, -1) ? 0 : 1;
    lua_pop(L, 1);
    return failed;
}

/* ---------------------------------------------------------------- main */

static void preload(lua_State *L, const char *name, lua_CFunction open)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

/* Does all the work, in protected mode. Pushes true when the process should exit 0. */
static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    struct options opt;

    collect_options(argv, argc, &opt);
    if (opt.flags & HAS_ERROR) {
        print_usage(stderr, argv[opt.bad]);
        return 0;
    }
    if (opt.flags & HAS_H) {
        print_usage(stdout, NULL);
        lua_pushboolean(L, 1);
        return 1;
    }
    if (opt.flags & HAS_V)
        print_version();

    luaL_openlibs(L);
    preload(L, "iotlua", luaopen_iotlua);
    preload(L, "cjson", luaopen_cjson);
    lua_pushboolean(L, opt.quiet);
    lua_setfield(L, LUA_REGISTRYINDEX, IOTLUA_QUIET_KEY);
    if (opt.log_format) {
        lua_pushstring(L, opt.log_format);
        lua_setfield(L, LUA_REGISTRYINDEX, IOTLUA_LOG_FORMAT_KEY);
    }
    if (opt.log_level) {
        lua_pushstring(L, opt.log_level);
        lua_setfield(L, LUA_REGISTRYINDEX, IOTLUA_LOG_LEVEL_KEY);
    }
    if (opt.deadline > 0) {
        iotlua_deadline_start(L, opt.deadline);
        if (host_hard_stop_arm(opt.deadline, opt.deadline_grace) != 0)
            return luaL_error(L, "cannot arm the --deadline timer");
    }
    create_arg_table(L, argv, argc, opt.script);
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCGEN, 0, 0);

    if (!run_early_options(L, argv, opt.script))
        return 0;
    if (opt.script < argc) {
        if (handle_script(L, argv, opt.script) != LUA_OK)
            return 0;
    } else if (opt.flags & (HAS_E | HAS_V)) {
        /* nothing more to run */
    } else if (isatty(STDIN_FILENO)) {
        print_version();
        do_repl(L);
    } else if (dochunk(L, luaL_loadfile(L, NULL)) != LUA_OK) {
        return 0;
    }
    lua_pushboolean(L, finish_tasks(L) == 0);
    return 1;
}

/* ---------------------------------------------------------------- the state */

/* Under AddressSanitizer the state allocates with malloc, so that the sanitizer sees
 * every Lua object (a pooled block freed and reused is invisible to it). */
#if defined(__SANITIZE_ADDRESS__)
#define HOST_POOLED_ALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOST_POOLED_ALLOC 0
#endif
#endif
#ifndef HOST_POOLED_ALLOC
#define HOST_POOLED_ALLOC 1
#endif

/* What luaL_newstate installs besides its allocator (lauxlib keeps its own private). */
static int on_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: PANIC: unprotected error in call to Lua API (%s)\n", progname,
            msg ? msg : "error object is not a string");
    return 0;                           /* Lua then aborts */
}

/* Warnings as the stock interpreter prints them: off until warn("@on"); the pieces of
 * one message on one stderr line after "Lua warning: ". */
struct warn_state {
    int on;
    int continuing;                     /* the last piece said more follows */
};

static void on_warning(void *ud, const char *msg, int tocont)
{
    struct warn_state *w = ud;
    if (!w->continuing && !tocont && msg[0] == '@') {      /* a control message */
        if (strcmp(msg, "@on") == 0)
            w->on = 1;
        else if (strcmp(msg, "@off") == 0)
            w->on = 0;
        return;
    }
    if (w->on) {
        if (!w->continuing)
            fputs("Lua warning: ", stderr);
        fputs(msg, stderr);
        if (!tocont)
            fputs("\n", stderr);
    }
    w->continuing = tocont;
}

static struct warn_state warnings;

/* The host's state: pooled small blocks (host/lua_alloc.h) unless under ASan. */
static lua_State *new_state(struct lua_alloc **pool_out)
{
    *pool_out = NULL;
    if (!HOST_POOLED_ALLOC)
        return luaL_newstate();
    struct lua_alloc *pool = lua_alloc_new();
    lua_State *L = pool ? lua_newstate(lua_alloc_fn, pool) : NULL;
    if (!L) {
        lua_alloc_free(pool);
        return NULL;
    }
    lua_atpanic(L, on_panic);
    lua_setwarnf(L, on_warning, &warnings);
    *pool_out = pool;
    return L;
}

int main(int argc, char **argv)
{
    /* Asked before anything else initialises OpenSSL:
     * - no clean-up at exit: the process ends when the script does, and OpenSSL's
     *   clean-up would only free what exiting frees (1.3 million instructions after an
     *   HTTPS call, a fifth of a start-up's own work);
     * - no table of ciphers by legacy name: TLS fetches its ciphers from the provider,
     *   and only the EVP_get_cipherby* lookups read that table (here: a PEM key encrypted with a
     *   passphrase, which iotlua has no way to give). Filling it, and the copy of its
     *   names OpenSSL 3.0 makes for the provider's name map, was 2.3 of the 21.7 million
     *   instructions of one HTTPS publish from a fresh process (callgrind). Digests keep
     *   their table: certificate signatures are checked by looking theirs up in it. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_ADD_ALL_CIPHERS, NULL);
    struct lua_alloc *pool;
    lua_State *L = new_state(&pool);
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
        return EXIT_FAILURE;
    }
    lua_gc(L, LUA_GCSTOP);
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 1, 0);
    int ok = lua_toboolean(L, -1);
    report(L, status);
    int late = iotlua_deadline_passed(L);
    lua_close(L);
    lua_alloc_free(pool);
    if (late)
        return HOST_DEADLINE_EXIT;
    return (status == LUA_OK && ok) ? EXIT_SUCCESS : EXIT_FAILURE;
}

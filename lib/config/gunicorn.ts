/**
 * Gunicorn 23's settings that have no corral setting, each with the
 * reason or what to use instead. The ones that have one say so in their
 * row of the settings table (`gunicorn`); the hooks map in
 * {@link GUNICORN_HOOKS}. docs/settings.md's table is generated from the
 * three (scripts/gen_settings_doc.ts), and a test checks that together they
 * name every Gunicorn 23 setting.
 * @module
 */

/** A Gunicorn setting with no corral setting of its own. */
export interface GunicornOnly {
  /** Gunicorn's name (its config-file key). */
  readonly name: string;
  /** Its command-line flag, if it has one. */
  readonly flag?: string;
  /** Why corral has none, or what does the job. */
  readonly why: string;
}

/** Gunicorn's hooks, by corral's name of the same hook (null: none). */
export const GUNICORN_HOOKS: readonly {
  readonly name: string;
  readonly corral: string | null;
  why?: string;
}[] = [
  { name: "on_starting", corral: "onStarting" },
  { name: "on_reload", corral: "onReload" },
  { name: "when_ready", corral: "whenReady" },
  { name: "pre_fork", corral: "preFork" },
  {
    name: "post_fork",
    corral: null,
    why: "a worker is a new process, not a fork: `postWorkerInit` runs in it once the app is loaded",
  },
  { name: "post_worker_init", corral: "postWorkerInit" },
  {
    name: "worker_int",
    corral: null,
    why: "INT and QUIT end a worker at once, with no hook; `workerExit` runs when it stops gracefully (TERM)",
  },
  {
    name: "worker_abort",
    corral: null,
    why: "a hung worker is killed from the master; the error log names the requests in flight in it",
  },
  {
    name: "pre_exec",
    corral: null,
    why: "USR2 starts a new master from the program on disk; nothing runs before",
  },
  {
    name: "pre_request",
    corral: null,
    why: "the app is a fetch handler: wrap it (a middleware) to act before each request",
  },
  { name: "post_request", corral: null, why: "as pre_request, in the app; or read the access log" },
  { name: "child_exit", corral: "childExit" },
  { name: "worker_exit", corral: "workerExit" },
  { name: "nworkers_changed", corral: "nworkersChanged" },
  { name: "on_exit", corral: "onExit" },
];

/** Gunicorn 23's settings that corral has no setting for. */
export const GUNICORN_ONLY: readonly GunicornOnly[] = [
  { name: "wsgi_app", why: "APP_MODULE[:NAME] on the command line" },
  {
    name: "reload_engine",
    flag: "--reload-engine",
    why: "--reload uses the runtime's file watcher (inotify)",
  },
  {
    name: "reload_extra_files",
    flag: "--reload-extra-file",
    why: "--reload watches the app's whole folder and the config file",
  },
  { name: "spew", flag: "--spew", why: "a Python line tracer; use the runtime's inspector (`--inspect`)" },
  {
    name: "disable_redirect_access_to_syslog",
    flag: "--disable-redirect-access-to-syslog",
    why: "no syslog output (see syslog)",
  },
  { name: "capture_output", flag: "--capture-output", why: "the app's stdout and stderr are the master's" },
  {
    name: "logger_class",
    flag: "--logger-class",
    why: "corral writes its own lines (through LogTape in the master); --log-format json for machines",
  },
  { name: "logconfig", flag: "--log-config", why: "Python logging configuration; see --log-format" },
  { name: "logconfig_dict", why: "Python logging configuration; see --log-format" },
  {
    name: "logconfig_json",
    flag: "--log-config-json",
    why: "Python logging configuration; see --log-format",
  },
  {
    name: "syslog_addr",
    flag: "--log-syslog-to",
    why: "no syslog: log to stderr, which systemd's journal keeps",
  },
  { name: "syslog", flag: "--log-syslog", why: "no syslog: log to stderr, which systemd's journal keeps" },
  { name: "syslog_prefix", flag: "--log-syslog-prefix", why: "no syslog (see syslog)" },
  { name: "syslog_facility", flag: "--log-syslog-facility", why: "no syslog (see syslog)" },
  { name: "enable_stdio_inheritance", flag: "-R", why: "no daemon mode: stdio is always inherited" },
  { name: "statsd_host", flag: "--statsd-host", why: "metrics are pulled: Prometheus at --metrics-bind" },
  { name: "dogstatsd_tags", flag: "--dogstatsd-tags", why: "no statsd (see statsd_host)" },
  { name: "statsd_prefix", flag: "--statsd-prefix", why: "no statsd (see statsd_host)" },
  { name: "proc_name", flag: "-n", why: "neither runtime can set a process title" },
  { name: "default_proc_name", why: "neither runtime can set a process title" },
  { name: "ssl_version", flag: "--ssl-version", why: "the runtime's TLS stack offers TLS 1.2 and 1.3" },
  {
    name: "cert_reqs",
    flag: "--cert-reqs",
    why: "no client certificates: neither runtime's server asks for one",
  },
  { name: "ca_certs", flag: "--ca-certs", why: "no client certificates (see cert_reqs)" },
  { name: "suppress_ragged_eofs", flag: "--suppress-ragged-eofs", why: "Python ssl module detail" },
  { name: "do_handshake_on_connect", flag: "--do-handshake-on-connect", why: "Python ssl module detail" },
  { name: "ciphers", flag: "--ciphers", why: "the runtime's TLS stack chooses its cipher suites" },
  { name: "ssl_context", why: "the runtime's TLS stack; --certfile and --keyfile" },
  {
    name: "preload_app",
    flag: "--preload",
    why: "workers are spawned, not forked: nothing loaded in the master is shared",
  },
  { name: "sendfile", flag: "--no-sendfile", why: "the runtime's server decides" },
  { name: "reuse_port", flag: "--reuse-port", why: "always on: every worker binds with SO_REUSEPORT" },
  {
    name: "daemon",
    flag: "-D",
    why: "run it under systemd, a container or another supervisor (docs/deploy.md)",
  },
  {
    name: "worker_tmp_dir",
    flag: "--worker-tmp-dir",
    why: "heartbeats go over a unix socket in the master's private folder, not a file",
  },
  { name: "tmp_upload_dir", why: "request bodies are streams: the app decides where they go" },
  {
    name: "secure_scheme_headers",
    why: "X-Forwarded-Proto and Forwarded are read from --forwarded-allow-ips peers",
  },
  { name: "pythonpath", flag: "--pythonpath", why: "modules resolve as the runtime resolves them (--chdir)" },
  { name: "paste", flag: "--paste", why: "PasteDeploy is Python's" },
  { name: "raw_paste_global_conf", flag: "--paste-global", why: "PasteDeploy is Python's" },
  {
    name: "proxy_protocol",
    flag: "--proxy-protocol",
    why: "neither runtime's server reads the PROXY protocol; use X-Forwarded-For",
  },
  { name: "proxy_allow_ips", flag: "--proxy-allow-from", why: "no PROXY protocol (see proxy_protocol)" },
  {
    name: "permit_obsolete_folding",
    flag: "--permit-obsolete-folding",
    why: "the runtime's HTTP parser decides",
  },
  { name: "strip_header_spaces", flag: "--strip-header-spaces", why: "the runtime's HTTP parser decides" },
  {
    name: "permit_unconventional_http_method",
    flag: "--permit-unconventional-http-method",
    why: "the runtime's HTTP parser decides",
  },
  {
    name: "permit_unconventional_http_version",
    flag: "--permit-unconventional-http-version",
    why: "the runtime's HTTP parser decides",
  },
  { name: "casefold_http_method", flag: "--casefold-http-method", why: "the runtime's HTTP parser decides" },
  {
    name: "forwarder_headers",
    flag: "--forwarder-headers",
    why: "a WSGI environ detail; the Request keeps every header as sent",
  },
  {
    name: "header_map",
    flag: "--header-map",
    why: "a WSGI environ detail; the Request keeps every header as sent",
  },
  { name: "backlog", flag: "--backlog", why: "the runtime's server sets its listen backlog" },
  { name: "worker_class", flag: "-k", why: "one kind of worker: the runtime's own async server" },
  { name: "threads", flag: "--threads", why: "one event loop per worker: add workers (-w) instead" },
  {
    name: "worker_connections",
    flag: "--worker-connections",
    why: "no connection cap; --max-concurrency caps the requests a worker runs at once",
  },
];

/*
 * The kernel's help in boxing in a child (issue 18, "Each process its own
 * user, and the kernel's help").
 *
 * Resource limits, set while the child is still root (only root may raise
 * a hard limit): RLIMIT_NPROC 0 in the processes that never fork (smtp,
 * queue, control), RLIMIT_FSIZE 0 in those that write no file (smtp,
 * authd, control), RLIMIT_NOFILE in smtp from its configured sessions.
 * RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 are proc.c's, with the privilege
 * drop.
 *
 * A seccomp-BPF filter (libseccomp) per process, installed by
 * proc_child_main() once the process has started: chrooted, unprivileged,
 * configured, its libraries initialised and its stores open.  It allows
 * only the system calls that process makes from then on; anything else
 * traps (SECCOMP_RET_TRAP) into a SIGSYS handler that names the call in
 * the log and lets the process die of SIGSYS, so that the parent logs the
 * loss and stops the daemon (fail-stop).  With `posternd -d -S log` the
 * handler logs the call and makes it fail with ENOSYS instead.
 *
 * The processes that resolve (mta, authd, reportd) may fork, and only
 * fork: libunbound's asynchronous API runs its resolver in a forked
 * background process unless ub_ctx_async(ctx, 1) asks for a thread, and
 * postern has no threads (DESIGN.md); that process inherits the filter,
 * so the resolver's own calls (UDP and TCP sockets, bind for a random
 * source port) are in those filters.  clone is allowed with fork's flags
 * alone (no CLONE_VM, CLONE_THREAD or namespaces); clone3, whose flags a
 * filter cannot see, fails with ENOSYS, so that glibc falls back to clone.
 *
 * The parent has no filter: it forks and executes delivery workers and mda
 * commands, changes to any user, opens any mailbox and listening socket,
 * which together is nearly every system call there is; its defence is
 * that it parses nothing but its config file and validated imsgs.
 *
 * authd's crypt helper (authd/crypt_helper.c, forked by authd before
 * authd's filter) gets a filter of its own, the narrowest: its socket,
 * memory, exit (sandbox_crypt_helper()); and RLIMIT_NPROC 0, RLIMIT_FSIZE
 * 0, RLIMIT_NOFILE of what it holds, RLIMIT_CORE 0, not dumpable.  It is
 * part of authd: its death stops authd, and so the daemon (fail-stop).
 *
 * The delivery workers (posternd -P deliver and -P forward, fresh
 * executions of posternd, one recipient user each) get one filter per
 * kind (sandbox_worker_enter()), installed once the worker is its user
 * for good and before it reads any message or file of the user's:
 * maildir and mbox may make and sync files and directories and lock;
 * the ~/.forward reader may only open for reading (no O_CREAT, O_TRUNC,
 * O_APPEND or write access) and answer; the lmtp worker may open for
 * reading (the resolver's /etc/hosts), make sockets and connect, having
 * looked the server's name up once before its filter so that the name
 * service's modules are mapped.  None may execute, fork or change user.
 * A worker's forbidden call kills it (SIGSYS, the call named in the log)
 * and the parent makes its jobs temporary failures, which the queue
 * retries; the daemon goes on.  Fail-stop is for the long-lived
 * children, whose loss leaves the set unable to do its job (posternd(8));
 * a worker is one of many short-lived processes per user, its loss costs
 * one attempt, like a worker killed at its deadline, and stopping the
 * daemon for it would let any user stop mail for everyone with a
 * .forward or a mailbox that makes a worker misbehave.
 *
 * The mda worker executes the user's command (procmail, maildrop, a
 * script), which inherits any filter across execve: an allow-list would
 * have to allow whatever such a program does, which is nearly anything.
 * Its filter is a deny-list instead (sandbox_mda()), of what no delivery
 * command needs and what attacks the kernel or other processes: ptrace
 * and process_vm_*, kexec and module loading, mount and the new mount
 * API, bpf, keyctl, perf_event_open, userfaultfd, io_uring (whose
 * operations a filter never sees), namespaces (unshare, setns), swap,
 * reboot, the clock, iopl.  It is installed as root (CAP_SYS_ADMIN) so
 * that NO_NEW_PRIVS stays off: Debian's procmail and dotlockfile are
 * setgid mail and need that group for /var/mail.  A setuid program under
 * the filter is not weakened by it: each call it refuses kills (SIGSYS),
 * none fails with an error a program might ignore.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <ucontext.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "log.h"
#include "util.h"
#include "posternd/proc.h"
#include "posternd/sandbox.h"

/*
 * A sanitizer build (make SANITIZE=1: ASan and UBSan together), detected
 * by ASan's mark, gcc's or clang's.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER	1
#endif
#endif

int	 sandbox_log_only;

/*
 * What the SIGSYS handler needs, made before the filter, since it may
 * only write(2): the start of its line, every system call's name, and
 * where the line goes (stderr with -d, else a socket to syslog opened
 * before chroot).
 */
#define SANDBOX_NAMES	512
static const char	*sandbox_names[SANDBOX_NAMES];
static char		 sandbox_prefix[96];
static int		 sandbox_logfd = -1;
static int		 sandbox_syslog;

/* What a process may do beyond the calls every child makes. */
#define SB_DNS		0x01	/* libunbound: fork, UDP/TCP sockets */
#define SB_CONNECT	0x02	/* outbound TCP of its own */
#define SB_ACCEPT	0x04	/* accepts connections */
#define SB_STORE	0x08	/* an LMDB store, written */
#define SB_MEMFD	0x10	/* message files for local delivery */

static const unsigned int sandbox_needs[PROC_MAX] = {
	[PROC_SMTP] = SB_ACCEPT,
	[PROC_QUEUE] = SB_STORE | SB_MEMFD,
	[PROC_MTA] = SB_DNS | SB_CONNECT | SB_STORE,
	[PROC_AUTHD] = SB_DNS,
	[PROC_REPORTD] = SB_DNS | SB_CONNECT | SB_STORE,
	[PROC_CONTROL] = SB_ACCEPT,
};

/*
 * Every child: imsg channels (recvmsg and sendmsg pass descriptors), the
 * libevent loop (epoll), memory, time, signals, and what glibc, OpenSSL
 * (getrandom) and the log (sendto on syslog's socket) do underneath.
 */
static const char *const sandbox_common[] = {
	"read", "readv", "write", "writev", "pread64", "close", "lseek",
	"fstat", "newfstatat", "statx", "fcntl", "dup", "dup3",
	"recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown",
	"getsockopt", "setsockopt", "getsockname", "getpeername",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"poll", "ppoll", "select", "pselect6",
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	"nanosleep", "clock_nanosleep",
	"brk", "munmap", "mremap", "madvise",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"restart_syscall", "exit", "exit_group",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getrandom", "futex",
	"sched_yield", "prlimit64", "getrlimit", "uname", "sysinfo",
};

/* LMDB: its file's pages, their sync, its lock file's locks. */
static const char *const sandbox_store[] = {
	"pwrite64", "pwritev", "fsync", "fdatasync", "msync", "ftruncate",
	"fallocate", "flock", "fstatfs", "statfs",
};

/*
 * libunbound's background process, and a resolver's sockets; a context
 * made at run time (the mta's debug delivery) opens its tubes with
 * socketpair.
 */
static const char *const sandbox_dns[] = {
	"connect", "bind", "wait4", "pipe2", "set_robust_list", "socketpair",
};

static const char *const sandbox_connect[] = {
	"connect",
};

static const char *const sandbox_accept[] = {
	"accept", "accept4",
};

static const char *const sandbox_memfd[] = {
	"memfd_create", "ftruncate", "fstatfs", "pwrite64",
};

/*
 * authd's crypt helper: its socket (recv and send are recvfrom and
 * sendto), memory, the log, the SIGSYS handler's death, exit.
 */
static const char *const sandbox_crypt[] = {
	"read", "write", "writev", "recvfrom", "sendto", "close",
	"brk", "munmap", "mremap", "madvise", "futex",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"getpid", "gettid", "clock_gettime", "exit", "exit_group",
};

/*
 * The maildir and mbox workers: the mailbox's files, directories
 * (maildir's tmp/new/cur, made on first delivery), locks (mbox: fcntl,
 * flock and dot locks made with link) and their sync.
 */
static const char *const sandbox_files[] = {
	"open", "openat", "mkdir", "mkdirat", "rename", "renameat",
	"renameat2", "link", "linkat", "unlink", "unlinkat", "getdents64",
	"fsync", "fdatasync", "ftruncate", "fchmod", "fstatfs", "statfs",
	"flock", "pwrite64", "access", "faccessat", "faccessat2",
	"readlink", "umask", "sendfile", "copy_file_range", "splice",
	"fadvise64",
};

#ifdef SANDBOX_SANITIZER
/*
 * ASan and UBSan's runtime, so that a sanitizer build runs under the
 * same filters with these few more: its reports (/proc/self/maps; the
 * llvm-symbolizer it forks may not execute, and a report is then not
 * symbolised, as in the chroot anyway), and the thread and ptrace that
 * LeakSanitizer's check at exit would use (the tests turn it off: it
 * cannot work in a chroot).
 */
static const char *const sandbox_sanitizer[] = {
	"open", "openat", "readlink", "readlinkat", "getdents64", "ioctl",
	"prctl", "sched_getaffinity", "ptrace", "wait4", "clone",
	"set_robust_list", "pipe2", "access",
};
#endif

/* The signal-safe pieces of the SIGSYS handler. */
static size_t
sandbox_cat(char *buf, size_t off, size_t size, const char *s)
{
	while (*s != '\0' && off + 1 < size)
		buf[off++] = *s++;
	buf[off] = '\0';
	return off;
}

static size_t
sandbox_catnum(char *buf, size_t off, size_t size, long n)
{
	char	 digits[24];
	size_t	 i = 0;

	if (n < 0) {
		off = sandbox_cat(buf, off, size, "-");
		n = -n;
	}
	do {
		digits[i++] = '0' + (char)(n % 10);
		n /= 10;
	} while (n > 0 && i < sizeof(digits));
	while (i > 0 && off + 1 < size)
		buf[off++] = digits[--i];
	buf[off] = '\0';
	return off;
}

/*
 * A forbidden system call.  Only write(2), and for the death the calls
 * every filter allows (rt_sigaction, rt_sigprocmask, kill of itself).
 */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char		 line[256];
	const char	*name = NULL;
	struct sigaction sa;
	sigset_t	 set;
	size_t		 n = 0;
	int		 nr = si->si_syscall, saved_errno = errno;

	if (nr >= 0 && nr < SANDBOX_NAMES)
		name = sandbox_names[nr];
	n = sandbox_cat(line, n, sizeof(line), sandbox_prefix);
	n = sandbox_cat(line, n, sizeof(line),
	    "seccomp: forbidden system call ");
	n = sandbox_cat(line, n, sizeof(line), name != NULL ? name : "?");
	n = sandbox_cat(line, n, sizeof(line), " (");
	n = sandbox_catnum(line, n, sizeof(line), nr);
	n = sandbox_cat(line, n, sizeof(line), sandbox_log_only ?
	    "): refused with ENOSYS (-S log)" : "): stopping");
#if defined(__x86_64__)
	/* for developing a filter: which file a process wanted */
	if (sandbox_log_only && (nr == SCMP_SYS(openat) ||
	    nr == SCMP_SYS(open))) {
		const char	*path = (const char *)((ucontext_t *)ctx)->
		    uc_mcontext.gregs[nr == SCMP_SYS(open) ? REG_RDI : REG_RSI];
		char		 shown[96];
		size_t		 i;

		for (i = 0; path != NULL && i + 1 < sizeof(shown) &&
		    path[i] != '\0'; i++)
			shown[i] = path[i];
		shown[i] = '\0';
		n = sandbox_cat(line, n, sizeof(line), ": ");
		n = sandbox_cat(line, n, sizeof(line), shown);
	} else if (sandbox_log_only) {
		n = sandbox_cat(line, n, sizeof(line), ": args ");
		n = sandbox_catnum(line, n, sizeof(line),
		    (long)((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RDI]);
		n = sandbox_cat(line, n, sizeof(line), " ");
		n = sandbox_catnum(line, n, sizeof(line),
		    (long)((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RSI]);
	}
#endif
	if (!sandbox_syslog)
		n = sandbox_cat(line, n, sizeof(line), "\n");
	if (write(sandbox_logfd, line, n) == -1) {
		/* nowhere else to say it */
	}
	if (sandbox_log_only) {
#if defined(__x86_64__)
		((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
		errno = saved_errno;
		return;
#elif defined(__aarch64__)
		((ucontext_t *)ctx)->uc_mcontext.regs[0] = -ENOSYS;
		errno = saved_errno;
		return;
#endif
	}
	/* die of SIGSYS, so that the parent's log says how */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	kill(getpid(), SIGSYS);
	_exit(128 + SIGSYS);
}

/*
 * The log line's start and destination.  Without -d, a datagram socket to
 * syslog of our own, connected before chroot: the handler may not call
 * syslog(3), which takes a lock the interrupted code may hold.
 */
static void
sandbox_prefix_set(const char *name)
{
	if (sandbox_syslog)
		snprintf(sandbox_prefix, sizeof(sandbox_prefix),
		    "<%d>postern[%d]: %s: ", LOG_MAIL | LOG_CRIT,
		    (int)getpid(), name);
	else
		snprintf(sandbox_prefix, sizeof(sandbox_prefix), "%s[%d]: ",
		    name, (int)getpid());
}

static void
sandbox_report_init(const char *name, int debug)
{
	struct sockaddr_un	 sun;
	int			 fd;

	sandbox_syslog = 0;
	sandbox_prefix_set(name);
	if (debug) {
		sandbox_logfd = STDERR_FILENO;
		return;
	}
	sandbox_logfd = STDERR_FILENO;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, _PATH_LOG, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return;
	}
	sandbox_logfd = fd;
	sandbox_syslog = 1;
	sandbox_prefix_set(name);
}

static void
sandbox_setrlimit(int resource, const char *name, rlim_t n)
{
	struct rlimit	 rl = { n, n };

	if (setrlimit(resource, &rl) == -1)
		fatal("setrlimit %s %llu", name, (unsigned long long)n);
}

/*
 * RLIMIT_FSIZE 0, unless the log is itself a file: with -d the log is
 * stderr, and a process that writes no file still writes its log lines
 * there (the limit counts every regular file, appends included).
 */
static void
sandbox_nofiles(void)
{
	struct stat	 st;

	if (fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
		log_debug("stderr is a file: no RLIMIT_FSIZE 0");
		return;
	}
	sandbox_setrlimit(RLIMIT_FSIZE, "RLIMIT_FSIZE", 0);
}

rlim_t
sandbox_smtp_nofile(size_t sessions)
{
	return (rlim_t)sessions + SANDBOX_SMTP_SPARE;
}

/*
 * The mta's: a session's socket (and a TLSA or MTA-STS lookup or fetch
 * in passing) and each message out at it, a memory file; 256 for DNS,
 * the channels, the MTA-STS cache and libraries.  Past a soft limit of
 * 1024 (systemd's) that 2048 messages out would pass (issue 19).
 */
rlim_t
sandbox_mta_nofile(size_t sessions)
{
	return (rlim_t)sessions * 2 + MSG_MTA_INFLIGHT_MAX + 256;
}

/*
 * The limits.  smtp's descriptors: one per session (its connection: a
 * TLS session and its handshake use that same descriptor) and the spare,
 * and never below what is open already plus 64.  The parent raised its
 * hard limit to that before it started us, or lowered smtp-max-sessions
 * to what its hard limit allows (parent_nofile()); setting both limits
 * to the figure, as root, lowers the hard one to what smtp needs.
 */
static void
sandbox_limits(struct proc *p)
{
	struct rlimit	 rl;
	rlim_t		 nofile;
	int		 fd, top = 0;

	switch (p->desc->id) {
	case PROC_SMTP:
		for (fd = 0; fd < 4096; fd++)
			if (fcntl(fd, F_GETFD) != -1)
				top = fd;
		nofile = sandbox_smtp_nofile(p->global.smtp_max_sessions);
		if (nofile < (rlim_t)top + 64)
			nofile = (rlim_t)top + 64;
		/* without CAP_SYS_RESOURCE even root cannot pass the hard
		 * limit: the parent made the sessions fit under it */
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_max != RLIM_INFINITY && nofile > rl.rlim_max &&
		    rl.rlim_max >= (rlim_t)top + 64)
			nofile = rl.rlim_max;
		sandbox_setrlimit(RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile);
		/* FALLTHROUGH */
	case PROC_CONTROL:
		sandbox_nofiles();
		/* FALLTHROUGH */
	case PROC_QUEUE:
		sandbox_setrlimit(RLIMIT_NPROC, "RLIMIT_NPROC", 0);
		break;
	case PROC_AUTHD:
		sandbox_nofiles();
		break;
	case PROC_MTA:
		/* where the parent could not raise its hard limit that
		 * far, what it allows (it logged it) */
		nofile = sandbox_mta_nofile(p->global.mta_max_sessions);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_max != RLIM_INFINITY && nofile > rl.rlim_max)
			nofile = rl.rlim_max;
		sandbox_setrlimit(RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile);
		break;
	default:
		break;
	}
}

static void
sandbox_names_init(void)
{
	int	 nr;

	if (sandbox_names[0] != NULL)
		return;		/* a fork's copy, made before */
	for (nr = 0; nr < SANDBOX_NAMES; nr++)
		sandbox_names[nr] = seccomp_syscall_resolve_num_arch(
		    SCMP_ARCH_NATIVE, nr);	/* kept for the handler */
}

void
sandbox_prepare(struct proc *p, int debug)
{
	sandbox_limits(p);
	sandbox_report_init(p->desc->name, debug);
	sandbox_names_init();
}

static void
sandbox_allow(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	size_t	 i;
	int	 nr, r;

	for (i = 0; i < n; i++) {
		if ((nr = seccomp_syscall_resolve_name(names[i])) ==
		    __NR_SCMP_ERROR)
			fatalx("seccomp: unknown system call %s", names[i]);
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0 &&
		    r != -EEXIST)
			fatalx("seccomp: allowing %s: %s", names[i],
			    strerror(-r));
	}
}

static void
sandbox_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *what,
    unsigned int ncmp, const struct scmp_arg_cmp *cmp)
{
	int	 r;

	if ((r = seccomp_rule_add_array(ctx, action, nr, ncmp, cmp)) < 0 &&
	    r != -EEXIST)
		fatalx("seccomp: %s: %s", what, strerror(-r));
}

/* argument n equals v (libseccomp's SCMP_An() leave a field to C) */
static struct scmp_arg_cmp
sandbox_eq(unsigned int n, scmp_datum_t v)
{
	struct scmp_arg_cmp	 c;

	memset(&c, 0, sizeof(c));
	c.arg = n;
	c.op = SCMP_CMP_EQ;
	c.datum_a = v;
	return c;
}

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * TEST ONLY: POSTERN_TEST_SECCOMP_VIOLATE="NAME[:CALL]" (CALL socket, the
 * default, execve, keyctl, or mmap of executable memory) makes the
 * process NAME (a child, "crypt" for authd's crypt helper, or a delivery
 * worker's kind: maildir, mbox, lmtp, mda, forward) make that call under
 * its filter, so that regress/test_sandbox.py sees the daemon stop (a
 * child), the job deferred (a worker), or with -S log the process carry
 * on.  Like every POSTERN_TEST_ variable, gone unless posternd runs with
 * -d -T.
 */
void
sandbox_test_violate(const char *name)
{
	const char	*v, *call;
	size_t		 n = strlen(name);
	char *const	 argv[] = { "postern-seccomp-test", NULL };
	void		*mem;
	int		 fd;

	if ((v = getenv("POSTERN_TEST_SECCOMP_VIOLATE")) == NULL ||
	    strncmp(v, name, n) != 0 || (v[n] != '\0' && v[n] != ':'))
		return;
	call = v[n] == ':' ? v + n + 1 : "socket";
	log_warnx("%s: test: calling %s under the filter", name, call);
	if (strcmp(call, "socket") == 0) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1)
			close(fd);
	} else if (strcmp(call, "execve") == 0)
		execve("/nonexistent", argv, argv + 1);
	else if (strcmp(call, "keyctl") == 0)
		/* harmless if it ran: asks for the session keyring's id */
		syscall(SCMP_SYS(keyctl), 0 /* KEYCTL_GET_KEYRING_ID */,
		    -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
	else if (strcmp(call, "mmap") == 0) {
		/* allowed, but not for executable memory */
		if ((mem = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) != MAP_FAILED)
			munmap(mem, 4096);
	}
	else
		fatalx("POSTERN_TEST_SECCOMP_VIOLATE: no such call %s", call);
	log_warnx("%s: test: %s returned: %s", name, call, strerror(errno));
}

static volatile sig_atomic_t	 sandbox_held;

static void
sandbox_release(int sig)
{
	sandbox_held = 0;
}

/*
 * TEST ONLY: POSTERN_TEST_SECCOMP_HOLD="NAME" (a worker's kind) makes that
 * process wait, under its filter and with its job in hand, until SIGUSR1,
 * so that a test reads its /proc/PID/status while it works.  Only calls
 * every filter allows (rt_sigaction, nanosleep).
 */
void
sandbox_test_hold(const char *name)
{
	const char		*v;
	struct sigaction	 sa;
	struct timespec		 ts = { 0, 20 * 1000 * 1000 };

	if ((v = getenv("POSTERN_TEST_SECCOMP_HOLD")) == NULL ||
	    strcmp(v, name) != 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sandbox_release;
	sigemptyset(&sa.sa_mask);
	sandbox_held = 1;
	if (sigaction(SIGUSR1, &sa, NULL) == -1)
		fatal("sigaction SIGUSR1");
	log_warnx("%s: test: holding under the filter until SIGUSR1", name);
	while (sandbox_held)
		nanosleep(&ts, NULL);
	log_warnx("%s: test: released", name);
}

static void
sandbox_sigsys_install(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction SIGSYS");
}

/*
 * The start of every filter: the SIGSYS handler, another ABI's calls
 * killed (x32, i386 on x86_64: their numbers differ), signals to itself
 * only (the handler's death), memory but no new code (nothing is loaded
 * once started, so neither mmap nor mprotect may make anything
 * executable), clone3 refused (it hides its flags from a filter: glibc
 * then uses clone).
 */
static scmp_filter_ctx
sandbox_begin(void)
{
	scmp_filter_ctx		 ctx;
	struct scmp_arg_cmp	 cmp[1];
	pid_t			 self = getpid();
	int			 r;

	sandbox_sigsys_install();
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		fatalx("seccomp_init");
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0)
		fatalx("seccomp_attr_set: %s", strerror(-r));
	cmp[0] = sandbox_eq(0, (scmp_datum_t)self);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), "kill", 1, cmp);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), "tgkill", 1, cmp);
	cmp[0] = sandbox_eq(2, 0);
	cmp[0].op = SCMP_CMP_MASKED_EQ;
	cmp[0].datum_a = PROT_EXEC;
	cmp[0].datum_b = 0;
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), "mmap", 1, cmp);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), "mprotect", 1,
	    cmp);
	sandbox_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3",
	    0, NULL);
#ifdef SANDBOX_SANITIZER
	sandbox_allow(ctx, sandbox_sanitizer, NELEM(sandbox_sanitizer));
#endif
	return ctx;
}

/*
 * syslog(3) reconnecting after the syslog daemon restarted: refused
 * quietly (chrooted, it could not reach /dev/log anyway) rather than
 * killing a process for a log line.
 */
static void
sandbox_no_unix_socket(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp	 cmp[1];

	cmp[0] = sandbox_eq(0, AF_UNIX);
	sandbox_rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket),
	    "socket AF_UNIX", 1, cmp);
}

static void
sandbox_load(scmp_filter_ctx ctx, const char *name)
{
	int	 r;

	if ((r = seccomp_load(ctx)) < 0)
		fatalx("seccomp_load: %s", strerror(-r));
	seccomp_release(ctx);
	log_debug("%s: seccomp filter installed%s", name,
	    sandbox_log_only ? " (log only)" : "");
}

void
sandbox_enter(struct proc *p)
{
	scmp_filter_ctx		 ctx;
	struct scmp_arg_cmp	 cmp[1];
	unsigned int		 needs = sandbox_needs[p->desc->id];

	/*
	 * OpenSSL reads openssl.cnf on its first use; chrooted, that file
	 * is not there, and the attempt would be an openat under the
	 * filter.  Settle it now the way the chroot would: no config file
	 * (a no-op when OpenSSL was set up before chroot).
	 */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		fatalx("OPENSSL_init_crypto");
	/*
	 * jansson seeds its hash function on its first object from
	 * /dev/urandom (absent in the chroot: then from the time and pid):
	 * seed it now from getrandom(2), which the filters allow.
	 */
	json_object_seed(arc4random() | 1);

	ctx = sandbox_begin();
	sandbox_allow(ctx, sandbox_common, NELEM(sandbox_common));
	if (needs & SB_STORE)
		sandbox_allow(ctx, sandbox_store, NELEM(sandbox_store));
	if (needs & SB_MEMFD)
		sandbox_allow(ctx, sandbox_memfd, NELEM(sandbox_memfd));
	if (needs & SB_ACCEPT)
		sandbox_allow(ctx, sandbox_accept, NELEM(sandbox_accept));
	if (needs & SB_CONNECT) {
		sandbox_allow(ctx, sandbox_connect, NELEM(sandbox_connect));
		/* the mta's look at what a peer has not yet read */
		cmp[0] = sandbox_eq(1, TIOCOUTQ);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl),
		    "ioctl SIOCOUTQ", 1, cmp);
	}
	if (needs & SB_DNS) {
		sandbox_allow(ctx, sandbox_dns, NELEM(sandbox_dns));
		/* fork (glibc's flags), nothing else: no threads, no ns */
		cmp[0] = sandbox_eq(0, CLONE_CHILD_SETTID |
		    CLONE_CHILD_CLEARTID | SIGCHLD);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), "clone",
		    1, cmp);
	}
	if (needs & (SB_DNS | SB_CONNECT)) {
		cmp[0] = sandbox_eq(0, AF_INET);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket",
		    1, cmp);
		cmp[0] = sandbox_eq(0, AF_INET6);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket",
		    1, cmp);
	}
	sandbox_no_unix_socket(ctx);
	sandbox_load(ctx, p->desc->name);
	sandbox_test_violate(p->desc->name);
}

/*
 * authd's crypt helper (authd/crypt_helper.c), in the forked helper
 * before its first request: its socket `sock` and stderr kept, the SIGSYS
 * report's socket moved next to them, every other descriptor closed; it
 * may not fork, write a file, open one more descriptor or dump core; and
 * its filter leaves it its socket, memory and exit.  crypt(3) itself
 * makes no system call but memory (yescrypt's large block is an mmap).
 */
void
sandbox_crypt_helper(int sock)
{
	scmp_filter_ctx	 ctx;
	int		 top = sock;

	if (sandbox_logfd == -1)
		sandbox_logfd = STDERR_FILENO;	/* authd did not prepare */
	if (sandbox_logfd != -1 && sandbox_logfd != STDERR_FILENO) {
		if (dup2(sandbox_logfd, sock + 1) == -1)
			fatal("crypt helper: dup2");
		sandbox_logfd = top = sock + 1;
	}
	closefrom(top + 1);
	sandbox_prefix_set("crypt");
	sandbox_names_init();
	sandbox_setrlimit(RLIMIT_NPROC, "RLIMIT_NPROC", 0);
	sandbox_nofiles();
	sandbox_setrlimit(RLIMIT_NOFILE, "RLIMIT_NOFILE", (rlim_t)top + 1);
	sandbox_setrlimit(RLIMIT_CORE, "RLIMIT_CORE", 0);
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");

	ctx = sandbox_begin();
	sandbox_allow(ctx, sandbox_crypt, NELEM(sandbox_crypt));
	sandbox_no_unix_socket(ctx);
	sandbox_load(ctx, "crypt");
	sandbox_test_violate("crypt");
}

/* open and openat for reading only: no O_CREAT, no O_TRUNC, no write */
static void
sandbox_read_only(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp	 cmp[1];

	cmp[0] = sandbox_eq(2, 0);
	cmp[0].op = SCMP_CMP_MASKED_EQ;
	cmp[0].datum_a = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND |
	    (O_TMPFILE & ~O_DIRECTORY);
	cmp[0].datum_b = O_RDONLY;
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), "openat", 1,
	    cmp);
	cmp[0].arg = 1;
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), "open", 1, cmp);
}

static const char *const sandbox_worker_name[] = {
	[SANDBOX_MAILDIR] = "maildir",
	[SANDBOX_MBOX] = "mbox",
	[SANDBOX_LMTP] = "lmtp",
	[SANDBOX_MDA] = "mda",
	[SANDBOX_FORWARD] = "forward",
};

/* As root, before the worker's set-up: what the SIGSYS report needs. */
void
sandbox_worker_prepare(const char *name, int debug)
{
	sandbox_report_init(name, debug);
	sandbox_names_init();
	sandbox_setrlimit(RLIMIT_CORE, "RLIMIT_CORE", 0);
}

const char *
sandbox_worker_kind(enum sandbox_worker kind)
{
	return sandbox_worker_name[kind];
}

/*
 * The mda worker's filter, a list of what is refused, since the user's
 * command (procmail, maildrop, a script) inherits it and may do anything
 * a program of the user's may: what no delivery command needs and what
 * attacks the kernel or other processes.  Set while still root, so
 * without NO_NEW_PRIVS: Debian's procmail and dotlockfile are setgid
 * mail, and under NO_NEW_PRIVS they would lose the group that writes
 * /var/mail.  A setuid program under this filter cannot be tricked by it:
 * every call it refuses kills, none fails with an error it might ignore.
 */
static const char *const sandbox_mda_denied[] = {
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "mount", "umount2", "pivot_root", "move_mount",
	"open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
	"mount_setattr", "bpf", "keyctl", "add_key", "request_key",
	"perf_event_open", "userfaultfd", "swapon", "swapoff", "reboot",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"acct", "quotactl", "open_by_handle_at", "name_to_handle_at",
	"iopl", "ioperm", "unshare", "setns", "fanotify_init",
	"lookup_dcookie", "io_uring_setup", "io_uring_enter",
	"io_uring_register", "vhangup", "sethostname", "setdomainname",
	"syslog", "pidfd_getfd", "process_madvise",
};

/*
 * New namespaces through clone(2) too, not only unshare(2): the user
 * namespace is how an unprivileged program reaches most of the kernel's
 * attack surface (review finding).  clone3 hides its flags from a filter
 * and fails with ENOSYS, so that glibc uses clone.
 */
static const unsigned long sandbox_mda_clone_denied[] = {
	CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
};

static void
sandbox_mda(void)
{
	scmp_filter_ctx		 ctx;
	struct scmp_arg_cmp	 cmp;
	size_t			 i;
	int			 nr, r;

	if (getuid() != 0)
		fatalx("mda worker: its filter is set as root");
	sandbox_sigsys_install();
	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		fatalx("seccomp_init");
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0)
		fatalx("seccomp_attr_set: %s", strerror(-r));
	for (i = 0; i < NELEM(sandbox_mda_denied); i++) {
		nr = seccomp_syscall_resolve_name(sandbox_mda_denied[i]);
		if (nr == __NR_SCMP_ERROR)
			fatalx("seccomp: unknown system call %s",
			    sandbox_mda_denied[i]);
		sandbox_rule(ctx, SCMP_ACT_TRAP, nr, sandbox_mda_denied[i], 0,
		    NULL);
	}
	for (i = 0; i < NELEM(sandbox_mda_clone_denied); i++) {
		cmp.arg = 0;
		cmp.op = SCMP_CMP_MASKED_EQ;
		cmp.datum_a = sandbox_mda_clone_denied[i];
		cmp.datum_b = sandbox_mda_clone_denied[i];
		sandbox_rule(ctx, SCMP_ACT_TRAP, SCMP_SYS(clone),
		    "clone CLONE_NEW*", 1, &cmp);
	}
	sandbox_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3",
	    0, NULL);
	sandbox_load(ctx, "mda");
}

/*
 * A delivery worker's filter, once it is its user for good (the mda
 * worker's: before, as root; see sandbox_mda()), before its first job:
 * the message's descriptor is read only under it.  maildir and mbox
 * write files where the action says; the forward reader opens the home
 * and ~/.forward for reading and parses them; the lmtp worker connects
 * (and resolves the server's name: /etc/hosts, DNS).  None may execute,
 * fork, or change user.
 */
void
sandbox_worker_enter(enum sandbox_worker kind)
{
	scmp_filter_ctx		 ctx;
	struct scmp_arg_cmp	 cmp[1];

	if (kind == SANDBOX_MDA) {
		sandbox_mda();
		return;
	}
	ctx = sandbox_begin();
	sandbox_allow(ctx, sandbox_common, NELEM(sandbox_common));
	switch (kind) {
	case SANDBOX_MAILDIR:
	case SANDBOX_MBOX:
		sandbox_allow(ctx, sandbox_files, NELEM(sandbox_files));
		sandbox_no_unix_socket(ctx);
		break;
	case SANDBOX_LMTP:
		sandbox_read_only(ctx);
		sandbox_allow(ctx, sandbox_connect, NELEM(sandbox_connect));
		cmp[0] = sandbox_eq(0, AF_UNIX);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket",
		    1, cmp);
		cmp[0] = sandbox_eq(0, AF_INET);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket",
		    1, cmp);
		cmp[0] = sandbox_eq(0, AF_INET6);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket",
		    1, cmp);
		break;
	case SANDBOX_FORWARD:
		sandbox_read_only(ctx);
		sandbox_no_unix_socket(ctx);
		break;
	default:
		fatalx("%s: no such worker", __func__);
	}
	sandbox_load(ctx, sandbox_worker_name[kind]);
}

/*
 * The spool's space, as the queue store sees it: what is free for new mail
 * (qstore_space(), which `queue minfree` is compared with), and the
 * reserve that keeps the store's own bookkeeping possible on a full
 * filesystem.
 *
 * The reserve.  LMDB writes copy-on-write: taking envelopes out for
 * delivery, recording a temporary failure and removing a delivered
 * envelope all need fresh pages before they free any.  On a filesystem at
 * 0 bytes free (another writer took the rest, or mail did) LMDB extends
 * its file for those pages and the commit fails (ENOSPC, or EIO for its
 * short write): delivered envelopes cannot be removed, they stay in flight
 * and are delivered again after the next start, and the spool never
 * drains.  So the store keeps reserve bytes allocated in its own data file
 * beyond the last page in use (posix_fallocate(3): blocks that belong to
 * the file, so writing into them needs no free space, on tmpfs and ext4
 * alike), and new mail is committed only when it leaves that reserve whole
 * (qs_mail_fits()).  A batch whose messages would eat into it fails them
 * (451 4.3.0, the client retries) and commits its delivery results alone.
 * Pages that the bookkeeping frees go to LMDB's free list and serve the
 * next transactions, so the reserve is needed only to start the drain.
 * It is topped up after commits and on the queue's space timer, as far as
 * the filesystem allows (qs_reserve_keep()).
 *
 * Why not a spare file that is deleted when a commit fails: the room it
 * gives back is the filesystem's, and any other writer may take it first;
 * blocks inside data.mdb are the store's alone.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <string.h>

#include "log.h"
#include "queue/store.h"
#include "queue/store_int.h"

#define NUM_METAS	2	/* LMDB's two meta pages */

/*
 * The spool's figures: what its file system has free for us and its size,
 * and the pages inside the store that no database uses (LMDB's free list,
 * where its next writes go first).  -1 when the file system cannot be
 * asked; the store's figure is 0 when it cannot be read.
 */
static int
space_figures(struct qstore *qs, uint64_t *fs_avail, uint64_t *fs_size,
    uint64_t *inside)
{
	struct statvfs	 sv;
	MDB_envinfo	 info;
	MDB_stat	 ms;
	MDB_txn		*txn;
	MDB_dbi		 dbis[7];
	uint64_t	 used = NUM_METAS, pages;
	size_t		 i;
	int		 fd;

	*inside = 0;
	if (mdb_env_get_fd(qs->env, &fd) != 0 || fstatvfs(fd, &sv) == -1)
		return -1;
	*fs_avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	*fs_size = (uint64_t)sv.f_blocks * sv.f_frsize;
	if (mdb_env_info(qs->env, &info) != 0 ||
	    mdb_env_stat(qs->env, &ms) != 0 ||
	    mdb_txn_begin(qs->env, NULL, MDB_RDONLY, &txn) != 0)
		return 0;
	/* The free list (0), the main database (1) and ours. */
	dbis[0] = 0;
	dbis[1] = 1;
	dbis[2] = qs->db_msg;
	dbis[3] = qs->db_chunk;
	dbis[4] = qs->db_env;
	dbis[5] = qs->db_sched;
	dbis[6] = qs->db_meta;
	for (i = 0; i < sizeof(dbis) / sizeof(dbis[0]); i++) {
		MDB_stat	 ds;

		if (mdb_stat(txn, dbis[i], &ds) != 0) {
			mdb_txn_abort(txn);
			return 0;
		}
		used += ds.ms_branch_pages + ds.ms_leaf_pages +
		    ds.ms_overflow_pages;
	}
	mdb_txn_abort(txn);
	pages = (uint64_t)info.me_last_pgno + 1;
	if (pages > used)
		*inside = (pages - used) * ms.ms_psize;
	return 0;
}

/*
 * Room for new mail in the spool: what the file system has free, plus the
 * pages inside the store that no database uses.  LMDB never shrinks its
 * file, so after the queue drains the space it freed is inside the store,
 * where the next messages go; counting only the file system would refuse
 * mail for ever on a spool that filled once.  The reserve allocated beyond
 * the last page is not counted: it is not for mail.  fs_size is the file
 * system's size, for a default threshold in proportion to it.
 */
int
qstore_space(struct qstore *qs, uint64_t *avail, uint64_t *fs_size)
{
	uint64_t	 inside;

	if (space_figures(qs, avail, fs_size, &inside) == -1)
		return -1;
	*avail += inside;
	return 0;
}

/*
 * How large the reserve is: QSTORE_RESERVE, or an eighth of a small
 * filesystem (a test's tmpfs of a megabyte must still take mail).
 */
static size_t
reserve_size(int fd)
{
	struct statvfs	 sv;
	uint64_t	 size;

	if (fstatvfs(fd, &sv) == -1)
		return QSTORE_RESERVE;
	size = (uint64_t)sv.f_blocks * sv.f_frsize / 8;
	return size < QSTORE_RESERVE ? (size_t)size : QSTORE_RESERVE;
}

/* Allocate up to `want` bytes from `start`, halving what is asked for. */
static void
reserve_grow(int fd, off_t start, size_t want, size_t psize)
{
	size_t	 step = want;
	int	 rc;

	while (want >= psize && step >= psize) {
		if (step > want)
			step = want;
		step -= step % psize;
		if ((rc = posix_fallocate(fd, start, (off_t)step)) == 0) {
			start += step;
			want -= step;
			continue;
		}
		if (rc != ENOSPC && rc != EDQUOT) {
			log_warnx("queue store: allocating the reserve: %s",
			    strerror(rc));
			return;
		}
		step /= 2;
	}
}

/*
 * Top the reserve up to its size, as far as the filesystem lets us, and
 * say once when it is short and once when it is whole again.  Free pages
 * inside the store count: the bookkeeping's writes go there first.
 */
void
qs_reserve_keep(struct qstore *qs)
{
	MDB_envinfo	 info;
	MDB_stat	 ms;
	struct stat	 st;
	uint64_t	 fs_avail, fs_size, inside;
	off_t		 used;
	int		 fd;

	if (mdb_env_get_fd(qs->env, &fd) != 0 ||
	    mdb_env_info(qs->env, &info) != 0 ||
	    mdb_env_stat(qs->env, &ms) != 0 || fstat(fd, &st) == -1 ||
	    space_figures(qs, &fs_avail, &fs_size, &inside) == -1)
		return;
	used = (off_t)(info.me_last_pgno + 1) * ms.ms_psize;
	qs->reserve = reserve_size(fd);
	/* What lies between the last page and the file's end is ours. */
	if (st.st_size < used)
		st.st_size = used;
	qs->reserve_tail = (size_t)(st.st_size - used);
	if (qs->reserve_tail + inside < qs->reserve) {
		reserve_grow(fd, st.st_size, qs->reserve -
		    (qs->reserve_tail + inside), ms.ms_psize);
		if (fstat(fd, &st) == -1)
			return;
		if (st.st_size > used)
			qs->reserve_tail = (size_t)(st.st_size - used);
	}
	qs->reserve_have = qs->reserve_tail + inside < qs->reserve ?
	    qs->reserve_tail + inside : qs->reserve;
	if (qs->reserve_have < qs->reserve && !qs->reserve_short) {
		qs->reserve_short = 1;
		log_warnx("queue store: the spool is full: %zu of the %zu KB "
		    "kept for the store's own bookkeeping are left; new mail "
		    "waits for room", qs->reserve_have / 1024,
		    qs->reserve / 1024);
	} else if (qs->reserve_have == qs->reserve && qs->reserve_short) {
		qs->reserve_short = 0;
		log_info("queue store: the reserve for the store's own "
		    "bookkeeping is whole again (%zu KB)", qs->reserve / 1024);
	}
}

/*
 * May a batch that writes `bytes` of new mail be committed?  Only if it
 * leaves the reserve whole: what the filesystem has free, the store's free
 * pages and the allocated tail must hold the batch and the reserve.  When
 * the figures cannot be had, LMDB decides.
 */
int
qs_mail_fits(struct qstore *qs, size_t bytes)
{
	uint64_t	 fs_avail, fs_size, inside;

	if (space_figures(qs, &fs_avail, &fs_size, &inside) == -1)
		return 1;
	return fs_avail + inside + qs->reserve_tail >=
	    (uint64_t)bytes + qs->reserve;
}

void
qstore_reserve_keep(struct qstore *qs)
{
	qs_reserve_keep(qs);
}

/*
 * The parent re-reads an aliases file (`alias <T>`) when it changes and
 * sends the new table to smtp and queue: no newaliases step.
 */
#ifndef POSTERN_ALIAS_WATCH_H
#define POSTERN_ALIAS_WATCH_H

#include "config.h"
#include "posternd/proc.h"

/* Seconds between two looks at the files (stat(2): dev, inode, size,
   mtime). */
#define ALIAS_WATCH_SECS	2

/* Once the children are set up: start looking. */
void	alias_watch_start(struct postern_conf *, struct proc *);

#endif

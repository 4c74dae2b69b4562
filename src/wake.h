/*
 * wake.h - a worker's wake-up channel: the one way another thread reaches
 * a worker's event loop.
 *
 * Other threads post calls; the worker's thread runs them, in the order
 * posted.  Since nothing outside the worker touches its event_base, the
 * base needs no lock (EVENT_BASE_FLAG_NOLOCK).  A call is a struct the
 * caller embeds in what the call is about; it is queued at most once, so
 * posting it again before it ran does nothing, and the worker's thread may
 * take it back (wake_cancel) before freeing what embeds it.
 */
#ifndef SLUICE_WAKE_H
#define SLUICE_WAKE_H

#include <sys/queue.h>

struct event_base;
struct wake;

struct wake_call {
	void			(*fn)(void *arg);
	void			*arg;
	TAILQ_ENTRY(wake_call)	 link;		/* under the wake's lock */
	int			 queued;	/* under the wake's lock */
};

/* A channel whose calls run in base's loop, or NULL. */
struct wake *wake_new(struct event_base *base);
/* After the loop ended: calls still queued are dropped, not run. */
void wake_free(struct wake *);

void wake_call_init(struct wake_call *, void (*fn)(void *), void *arg);
/* Any thread: run call's fn(arg) soon in the channel's loop. */
void wake_post(struct wake *, struct wake_call *);
/* The loop's thread only: call will not run unless posted again. */
void wake_cancel(struct wake *, struct wake_call *);

#endif

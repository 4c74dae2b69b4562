/*
 * wake.c - a worker's wake-up channel: an eventfd the worker's loop
 * watches and a locked queue of calls.
 *
 * wake_post() queues a call and writes the eventfd only when the queue was
 * empty: the loop, woken, takes calls one at a time until the queue is
 * empty, so a call queued behind others is run by the same wake-up.  Calls
 * are taken one by one, under the lock, so that a call may cancel one
 * queued behind it (a connection it closes had a waiter queued).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "wake.h"

struct wake {
	int			 fd;		/* eventfd */
	struct event		*ev;
	pthread_mutex_t		 mtx;
	TAILQ_HEAD(, wake_call)	 calls;
};

/* The next queued call, taken off the queue, or NULL. */
static struct wake_call *
wake_take(struct wake *wk)
{
	struct wake_call *call;

	pthread_mutex_lock(&wk->mtx);
	if ((call = TAILQ_FIRST(&wk->calls)) != NULL) {
		TAILQ_REMOVE(&wk->calls, call, link);
		call->queued = 0;
	}
	pthread_mutex_unlock(&wk->mtx);
	return call;
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wake *wk = arg;
	struct wake_call *call;
	uint64_t n;

	(void)what;
	/*
	 * Reset the counter before taking calls: a post after this read
	 * writes again.  EAGAIN: a wake-up with nothing posted since.
	 */
	(void)!read(fd, &n, sizeof(n));
	while ((call = wake_take(wk)) != NULL)
		call->fn(call->arg);
}

struct wake *
wake_new(struct event_base *base)
{
	struct wake *wk;

	if ((wk = calloc(1, sizeof(*wk))) == NULL)
		return NULL;
	TAILQ_INIT(&wk->calls);
	if (pthread_mutex_init(&wk->mtx, NULL) != 0) {
		free(wk);
		return NULL;
	}
	if ((wk->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (wk->ev = event_new(base, wk->fd, EV_READ | EV_PERSIST, wake_cb,
	    wk)) == NULL || event_add(wk->ev, NULL) == -1)
		goto fail;
	return wk;
fail:
	wake_free(wk);
	return NULL;
}

void
wake_free(struct wake *wk)
{
	if (wk == NULL)
		return;
	if (wk->ev != NULL)
		event_free(wk->ev);
	pthread_mutex_destroy(&wk->mtx);
	if (wk->fd != -1)
		close(wk->fd);
	free(wk);
}

void
wake_call_init(struct wake_call *call, void (*fn)(void *), void *arg)
{
	call->fn = fn;
	call->arg = arg;
	call->queued = 0;
}

void
wake_post(struct wake *wk, struct wake_call *call)
{
	uint64_t one = 1;
	int first = 0;

	pthread_mutex_lock(&wk->mtx);
	if (!call->queued) {
		first = TAILQ_EMPTY(&wk->calls);
		TAILQ_INSERT_TAIL(&wk->calls, call, link);
		call->queued = 1;
	}
	pthread_mutex_unlock(&wk->mtx);
	/*
	 * Only the first call needs the loop woken; it takes them all.  The
	 * counter cannot overflow (the loop reads it), so a failed write is
	 * EAGAIN with a wake-up already pending.
	 */
	if (first)
		(void)!write(wk->fd, &one, sizeof(one));
}

void
wake_cancel(struct wake *wk, struct wake_call *call)
{
	pthread_mutex_lock(&wk->mtx);
	if (call->queued) {
		TAILQ_REMOVE(&wk->calls, call, link);
		call->queued = 0;
	}
	pthread_mutex_unlock(&wk->mtx);
}

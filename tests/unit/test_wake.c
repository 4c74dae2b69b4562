/*
 * test_wake.c - wake.c: calls posted from another thread run in the loop's
 * thread, in order, once each, and a cancelled call does not run.
 *
 * The loop's base has no lock, as a worker's: nothing but the channel may
 * reach it from the other thread.  A guard timer ends a loop that was not
 * woken, so a lost wake-up fails a check instead of hanging.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "unit.h"
#include "wake.h"

static struct event_base *base;
static struct wake *wk;
static pthread_t loop_thread;

struct probe {
	struct wake_call	 call;
	int			 runs;
	int			 in_loop_thread;
	int			 order;		/* position among the calls run */
	struct wake_call	*cancel;	/* taken back when this one runs */
	int			 stop;		/* leave the loop after this one */
};

static int nrun;

static void
probe_run(void *arg)
{
	struct probe *p = arg;

	p->runs++;
	p->in_loop_thread = pthread_equal(pthread_self(), loop_thread);
	p->order = ++nrun;
	if (p->cancel != NULL)
		wake_cancel(wk, p->cancel);
	if (p->stop)
		event_base_loopbreak(base);
}

static void
probe_init(struct probe *p)
{
	memset(p, 0, sizeof(*p));
	wake_call_init(&p->call, probe_run, p);
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

/* Run the loop until a call stops it, or 5 s. */
static void
loop(void)
{
	struct timeval tv = { 5, 0 };
	struct event *guard = evtimer_new(base, guard_cb, NULL);

	evtimer_add(guard, &tv);
	nrun = 0;
	event_base_dispatch(base);
	event_free(guard);
}

static void *
poster_main(void *arg)
{
	struct probe *p = arg;

	usleep(100 * 1000);	/* the loop waits in epoll by then */
	wake_post(wk, &p->call);
	return NULL;
}

static void
test_other_thread(void)
{
	struct probe p;
	pthread_t t;

	probe_init(&p);
	p.stop = 1;
	pthread_create(&t, NULL, poster_main, &p);
	loop();
	pthread_join(t, NULL);
	CHECK(p.runs == 1, "a call posted from another thread runs once");
	CHECK(p.in_loop_thread, "it runs in the loop's thread");
}

static void
test_order_once(void)
{
	struct probe a, b;

	probe_init(&a);
	probe_init(&b);
	b.stop = 1;
	wake_post(wk, &a.call);
	wake_post(wk, &b.call);
	wake_post(wk, &a.call);	/* still queued: nothing more */
	loop();
	CHECK(a.runs == 1 && b.runs == 1, "a call posted twice runs once");
	CHECK(a.order == 1 && b.order == 2, "calls run in the order posted");
}

static void
test_cancel(void)
{
	struct probe a, b, c;

	probe_init(&a);
	probe_init(&b);
	probe_init(&c);
	a.cancel = &b.call;
	c.stop = 1;
	wake_post(wk, &a.call);
	wake_post(wk, &b.call);
	wake_post(wk, &c.call);
	loop();
	CHECK(a.runs == 1 && b.runs == 0 && c.runs == 1,
	    "a call cancelled by the one before it does not run");

	probe_init(&a);
	probe_init(&b);
	b.stop = 1;
	wake_post(wk, &a.call);
	wake_cancel(wk, &a.call);
	wake_post(wk, &b.call);
	loop();
	CHECK(a.runs == 0 && b.runs == 1, "a call cancelled before the loop "
	    "does not run");
	wake_post(wk, &a.call);
	a.stop = 1;
	loop();
	CHECK(a.runs == 1, "a cancelled call posted again runs");
}

int
main(void)
{
	struct event_config *cfg = event_config_new();

	evthread_use_pthreads();
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	loop_thread = pthread_self();
	wk = wake_new(base);
	CHECK(wk != NULL, "wake_new");
	test_other_thread();
	test_order_once();
	test_cancel();
	wake_free(wk);
	event_base_free(base);
	return unit_done();
}

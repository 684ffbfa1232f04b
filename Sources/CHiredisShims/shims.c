#include "CHiredisShims.h"
#include <pthread.h>

#define MAX_ELEMENTS (1 << 22)

static redisReplyObjectFunctions bounded;
static void *(*hiredis_create_array)(const redisReadTask *, int);
static pthread_once_t bounded_once = PTHREAD_ONCE_INIT;

static void *bounded_create_array(const redisReadTask *task, int elements) {
    if (elements > MAX_ELEMENTS) return NULL;
    return hiredis_create_array(task, elements);
}

static void make_bounded(void) {
    // hiredis's own table is static in hiredis.c; every new reader points at it.
    redisReader *probe = redisReaderCreate();
    bounded = *probe->fn;
    hiredis_create_array = probe->fn->createArray;
    bounded.createArray = bounded_create_array;
    redisReaderFree(probe);
}

void cshim_bound_reader(redisReader *reader) {
    pthread_once(&bounded_once, make_bounded);
    reader->fn = &bounded;
}

int cshim_redis_max_elements(void) { return MAX_ELEMENTS; }

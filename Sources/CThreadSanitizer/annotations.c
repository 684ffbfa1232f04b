#include "CThreadSanitizer.h"

// Defined by the ThreadSanitizer runtime when the program is linked with it; null otherwise.
void __tsan_acquire(void *address) __attribute__((weak));
void __tsan_release(void *address) __attribute__((weak));

void locking_acquired(void *address) {
    if (__tsan_acquire) __tsan_acquire(address);
}

void locking_releasing(void *address) {
    if (__tsan_release) __tsan_release(address);
}

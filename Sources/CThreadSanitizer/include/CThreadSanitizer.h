#ifndef CTHREADSANITIZER_H
#define CTHREADSANITIZER_H

/// Tells ThreadSanitizer of a lock's hand-over, in a build with it (`--sanitize=thread`), and does
/// nothing in any other: the runtime's annotations are weak symbols here.
void locking_acquired(void *address);
void locking_releasing(void *address);

#endif

// The server's clock as seen from the page: offset = server time − local time, from several
// ping/pong samples. Each sample assumes the pong was stamped half-way through the round trip;
// samples with a round trip over twice the median are dropped (a delayed packet says nothing
// about the offset) and the median of the rest is the offset.
export class ServerClock {
  constructor() {
    this.samples = [];
    this.offset = 0;
  }

  /** The server time now, in ms. */
  now() { return Date.now() + this.offset; }

  reset() { this.samples = []; }

  /** A pong: the clientTime we sent, the serverTime it carries, and when it arrived. */
  add(clientTime, serverTime, receivedAt = Date.now()) {
    const roundTrip = receivedAt - clientTime;
    if (roundTrip < 0) return;
    this.samples.push({ roundTrip, offset: serverTime - (clientTime + roundTrip / 2) });
    if (this.samples.length > 15) this.samples.shift();
    const median = (values) => {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)];
    };
    const typical = median(this.samples.map((s) => s.roundTrip));
    const good = this.samples.filter((s) => s.roundTrip <= Math.max(2 * typical, 5));
    this.offset = median(good.map((s) => s.offset));
  }
}

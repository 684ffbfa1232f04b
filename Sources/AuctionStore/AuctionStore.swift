// Live auction state in Redis (SPEC §7). Filled in by issue 4; for now the key layout's root.
import AuctionCore
import RedisClient

/// The hash-tagged key prefix of one auction, so that all its keys land in one Redis Cluster slot.
public func auctionKeyPrefix(_ auctionId: String) -> String { "auction:{\(auctionId)}" }

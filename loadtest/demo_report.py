#!/usr/bin/env python3
"""Pretty-prints what `make demo` shows: the planned auctions, and the tenders as the API has them."""
import json
import sys
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)["data"]


def auctions(service):
    for auction in get(service + "/api/v1/auctions"):
        kind = "auctions" if auction["id"].startswith("0bbf") else "tenders"
        print("  {}/{}/{}   {}  {}".format(service, kind, auction["id"], auction["status"], auction["title"]))


def tender(api, resource, tender_id):
    t = get("{}/{}/{}".format(api, resource, tender_id))
    print("  {} ({}, {}): {}".format(t.get("tenderID", t["id"]), t.get("procurementMethodType"), t.get("awardCriteria", ""), t["status"]))
    for bid in t.get("bids", []):
        if "value" in bid:
            values = [bid["value"]["amount"]]
        else:
            values = ["lot {}: {}".format(v["relatedLot"][:6], v["value"]["amount"]) for v in bid.get("lotValues", [])]
        name = (bid.get("tenderers") or [{}])[0].get("name", "?")
        print("    bid {} {:12} {:32} {}".format(bid["id"][:8], bid.get("status", ""), name, values))
    for award in t.get("awards", []):
        lot = " lot " + award["lotID"][:6] if "lotID" in award else ""
        print("    award{} -> bid {} {} {}".format(lot, award["bid_id"][:8], award["status"], award["value"]["amount"]))


if __name__ == "__main__":
    if sys.argv[1] == "auctions":
        auctions(sys.argv[2])
    else:
        tender(sys.argv[2], sys.argv[3], sys.argv[4])

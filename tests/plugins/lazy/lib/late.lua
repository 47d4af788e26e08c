return { pathway = "P2", reason = "genuine" }

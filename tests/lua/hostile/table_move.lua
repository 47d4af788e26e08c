-- 10^15 nils moved in C without one allocation.
table.move({}, 1, 1e15, 2)

-- string.pack writes a 2 GB result before anything refuses it: on main a
-- quarter of a second of zeros per call, until memory ran out.
for _ = 1, 1000 do
    string.pack("c2000000000", "")
end

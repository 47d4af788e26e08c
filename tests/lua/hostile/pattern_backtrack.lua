-- Exponential backtracking inside the C matcher, where no hook fires.
return string.find(("a"):rep(300), ".-.-.-b")

//! Text sources: netstat/ss/Windows/BSD output pasted from any machine, parsed into the tcpdoctor model.

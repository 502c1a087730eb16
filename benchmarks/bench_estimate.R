# R `survey` side of benchmarks/bench_estimate.py: the same table as the Python engine.
#
# Usage: Rscript benchmarks/bench_estimate.R WAVE_CSV OUT_CSV [items]
# ("items": the item x commune table only, the table `sipas estimate` writes; for the comparison of
# whole processes.)
# For every item x commune: top-2-box share with SE and logit CI (df of the whole design),
# via svyby(..., svyciprop) as an R user would; plus the composite (mean of the 33 items) per
# commune with its linearised SE (svytotal + svycontrast on the commune's domain).
# Prints the wall time of the estimation (reading the CSV excluded).
suppressPackageStartupMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
items <- grep("^q[0-9]+$", names(d), value = TRUE)
t0 <- proc.time()[["elapsed"]]
for (q in items) d[[paste0(q, "_t")]] <- as.numeric(d[[q]] >= 4)
des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = d)
df_design <- degf(des)
out <- list()
for (q in items) {
  f <- as.formula(paste0("~", q, "_t"))
  b <- svyby(f, ~commune_code, des, svyciprop, method = "logit", df = df_design, na.rm = TRUE,
             vartype = c("se", "ci"))
  out[[q]] <- data.frame(commune_code = b$commune_code, index_code = q,
                         estimate = 100 * as.numeric(b[[2]]), se = 100 * b$se,
                         ci_low = 100 * b$ci_l, ci_high = 100 * b$ci_u)
}
items_only <- length(args) >= 3 && args[3] == "items"
# composite per commune: mean of the items' top-2-box shares (per-item valid answers)
comp <- list()
if (!items_only) {
yn <- c()
for (q in items) {
  d[[paste0("Y_", q)]] <- ifelse(is.na(d[[q]]), 0, as.numeric(d[[q]] >= 4))
  d[[paste0("N_", q)]] <- as.numeric(!is.na(d[[q]]))
  yn <- c(yn, paste0("Y_", q), paste0("N_", q))
}
des2 <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = d)
expr <- parse(text = sprintf("(%s)/%d",
  paste(sprintf("Y_%s/N_%s", items, items), collapse = " + "), length(items)))[[1]]
ftot <- as.formula(paste("~", paste(yn, collapse = "+")))
for (cc in sort(unique(d$commune_code))) {
  tot <- svytotal(ftot, subset(des2, commune_code == cc))
  ctr <- svycontrast(tot, expr)
  comp[[length(comp) + 1]] <- data.frame(commune_code = cc, index_code = "composite",
                                         estimate = 100 * as.numeric(coef(ctr)),
                                         se = 100 * as.numeric(SE(ctr)), ci_low = NA,
                                         ci_high = NA)
}
}
res <- rbind(do.call(rbind, out), do.call(rbind, comp))
write.csv(res, args[2], row.names = FALSE)
elapsed <- proc.time()[["elapsed"]] - t0
cat(sprintf("R_SECONDS %.3f\n", elapsed))

# Reference values from R `survey` (Lumley) for sipas_analysis.estimate.
#
# Usage:  Rscript tests/r/reference_estimates.R [FIXTURE_CSV] [OUT_DIR]
#   defaults: tests/r/fixtures/design_fixture.csv and tests/r/expected (relative to the repo root)
#
# Reads the committed fixture (strata, clusters nested in strata, unequal weights, item
# nonresponse, a singleton stratum, an fpc column) and writes, with 17 significant digits:
#   degf.csv       scenario, degf (PSUs - strata of the full design)
#   cells.csv      domain estimates, SEs and deff per (scenario, by, domain, item, statistic)
#   ci.csv         confidence intervals (svyciprop logit with design / domain df, beta = Korn-
#                  Graubard; t intervals of means)
#   contrasts.csv  composites of items and differences between domains (svytotal + svycontrast)
#   lonely_fail.csv the error R raises with options(survey.lonely.psu = "fail")
# Domain estimation never drops rows from the design: subset() keeps the full design's structure
# (PSU counts per stratum), and the ratio forms use the full design.
suppressPackageStartupMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
fixture <- if (length(args) >= 1) args[1] else "tests/r/fixtures/design_fixture.csv"
out_dir <- if (length(args) >= 2) args[2] else "tests/r/expected"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

d <- read.csv(fixture, stringsAsFactors = FALSE)
d$total <- "all"
items_5 <- c("q1", "q2", "q3", "q4")

# statistic variables: numeric, NA kept
for (q in items_5) {
  d[[paste0(q, "_mean")]] <- as.numeric(d[[q]])
  d[[paste0(q, "_top2")]] <- as.numeric(d[[q]] >= 4)
}
d$qb_prop <- as.numeric(d$qb == 1)
vars <- data.frame(
  item = c(items_5, items_5, "qb"),
  statistic = c(rep("mean", 4), rep("top2", 4), "prop"),
  stringsAsFactors = FALSE
)
vars$var <- paste0(vars$item, "_", vars$statistic)

scenarios <- list(
  adjust = list(lonely = "adjust", fpc = FALSE),
  average = list(lonely = "average", fpc = FALSE),
  certainty = list(lonely = "certainty", fpc = FALSE),
  fpc_adjust = list(lonely = "adjust", fpc = TRUE)
)

make_design <- function(sc, data) {
  if (sc$fpc) {
    svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, fpc = ~fpc, nest = TRUE,
              data = data)
  } else {
    svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = data)
  }
}

num <- function(x) sprintf("%.17g", x)
write_num <- function(df, file) {
  for (col in names(df)) if (is.numeric(df[[col]])) df[[col]] <- num(df[[col]])
  write.csv(df, file.path(out_dir, file), row.names = FALSE, quote = TRUE)
}

by_vars <- c("commune_code", "area_code", "sex", "total")
degf_rows <- list()
cell_rows <- list()
ci_rows <- list()
con_rows <- list()

for (sname in names(scenarios)) {
  sc <- scenarios[[sname]]
  options(survey.lonely.psu = sc$lonely)
  # domain indicator variables for the ratio form (full design)
  dd <- d
  des <- make_design(sc, dd)
  full_df <- degf(des)
  degf_rows[[length(degf_rows) + 1]] <- data.frame(scenario = sname, degf = full_df)
  for (by in by_vars) {
    for (dom in sort(unique(d[[by]]))) {
      in_dom <- d[[by]] == dom
      # full-design ratio form: Y = 1[d] v y, N = 1[d] v, one design for all variables
      for (k in seq_len(nrow(vars))) {
        ok <- in_dom & !is.na(d[[vars$var[k]]])
        dd[[paste0("Y_", k)]] <- ifelse(ok, d[[vars$var[k]]], 0)
        dd[[paste0("N_", k)]] <- as.numeric(ok)
      }
      des_r <- make_design(sc, dd)
      for (k in seq_len(nrow(vars))) {
        v <- vars$var[k]
        ok <- in_dom & !is.na(d[[v]])
        n <- sum(ok)
        if (n == 0) next
        r <- svyratio(as.formula(paste0("~Y_", k)), as.formula(paste0("~N_", k)), des_r)
        est_ratio <- as.numeric(coef(r))
        se_ratio <- as.numeric(SE(r))
        # subset form (what svyby(..., svymean) does)
        sub <- subset(des, ok)
        m <- svymean(as.formula(paste0("~", v)), sub, deff = "replace")
        n_psu <- length(unique(paste(d$stratum, d$psu)[ok]))
        cell_rows[[length(cell_rows) + 1]] <- data.frame(
          scenario = sname, by = by, domain = as.character(dom), item = vars$item[k],
          statistic = vars$statistic[k], n = n, n_psu = n_psu,
          est_subset = as.numeric(coef(m)), se_subset = as.numeric(SE(m)),
          deff_subset = as.numeric(deff(m)), est_ratio = est_ratio, se_ratio = se_ratio,
          df_domain = degf(sub), stringsAsFactors = FALSE
        )
        if (sname == "average") next # subset-based intervals rescale by the domain's strata
        p <- as.numeric(coef(m))
        if (n_psu < 2) next
        f <- as.formula(paste0("~", v))
        add_ci <- function(method, level, lo, hi) {
          ci_rows[[length(ci_rows) + 1]] <<- data.frame(
            scenario = sname, by = by, domain = as.character(dom), item = vars$item[k],
            statistic = vars$statistic[k], method = method, level = level,
            ci_low = lo, ci_high = hi, stringsAsFactors = FALSE
          )
        }
        if (vars$statistic[k] == "mean") {
          for (lev in c(0.95, 0.9)) {
            ci <- confint(m, level = lev, df = full_df)
            add_ci("t_design", lev, ci[1, 1], ci[1, 2])
            ci <- confint(m, level = lev, df = degf(sub))
            add_ci("t_domain", lev, ci[1, 1], ci[1, 2])
          }
        } else if (p > 0 && p < 1) {
          for (lev in c(0.95, 0.9)) {
            ci <- attr(svyciprop(f, sub, method = "logit", df = full_df, level = lev), "ci")
            add_ci("logit_design", lev, ci[1], ci[2])
            if (degf(sub) > 0) {
              ci <- attr(svyciprop(f, sub, method = "logit", level = lev), "ci")
              add_ci("logit_domain", lev, ci[1], ci[2])
              ci <- attr(svyciprop(f, sub, method = "beta", level = lev), "ci")
              add_ci("beta_domain", lev, ci[1], ci[2])
            }
          }
        }
      }
    }
  }

  # ---- composites and contrasts: svytotal of Y/N columns on the full design + svycontrast ----
  ind <- function(by, dom, v) {
    ok <- (if (by == "total") rep(TRUE, nrow(d)) else d[[by]] == dom) & !is.na(d[[v]])
    list(Y = ifelse(ok, d[[v]], 0), N = as.numeric(ok))
  }
  add_con <- function(name, parts, expr, within = NULL) {
    # parts: named list of c(by, dom, var); expr: quoted expression in Y_<name>, N_<name>
    # within: optional logical vector, the domain subset (svyby's design) instead of the full one
    dd2 <- d
    cols <- c()
    for (nm in names(parts)) {
      pp <- parts[[nm]]
      x <- ind(pp[1], pp[2], pp[3])
      dd2[[paste0("Y_", nm)]] <- x$Y
      dd2[[paste0("N_", nm)]] <- x$N
      cols <- c(cols, paste0("Y_", nm), paste0("N_", nm))
    }
    des2 <- make_design(sc, dd2)
    if (!is.null(within)) des2 <- subset(des2, within)
    tot <- svytotal(as.formula(paste("~", paste(cols, collapse = "+"))), des2)
    ctr <- svycontrast(tot, expr)
    con_rows[[length(con_rows) + 1]] <<- data.frame(
      scenario = sname, name = name, estimate = as.numeric(coef(ctr)),
      se = as.numeric(SE(ctr)), stringsAsFactors = FALSE
    )
  }
  # composite: mean of the top-2-box shares of q1, q2, q3 in each commune and overall
  for (dom in c(sort(unique(d$commune_code)), "all")) {
    by <- if (dom == "all") "total" else "commune_code"
    parts <- list()
    terms <- c()
    for (q in c("q1", "q2", "q3")) {
      x <- ind(by, dom, paste0(q, "_top2"))
      if (sum(x$N) == 0) next
      parts[[q]] <- c(by, dom, paste0(q, "_top2"))
      terms <- c(terms, sprintf("Y_%s/N_%s", q, q))
    }
    expr <- parse(text = sprintf("(%s)/%d", paste(terms, collapse = " + "), length(terms)))[[1]]
    add_con(paste0("composite_top2_q123:", by, "=", dom), parts, expr)
    # the same on the domain's subset, as svyby does ("average" counts the domain's strata)
    in_dom <- if (dom == "all") rep(TRUE, nrow(d)) else d$commune_code == dom
    add_con(paste0("composite_top2_q123_subset:", by, "=", dom), parts, expr, within = in_dom)
  }
  # composite of means of q1, q2 in area 798
  add_con("composite_mean_q12:area_code=798",
          list(a = c("area_code", "798", "q1_mean"), b = c("area_code", "798", "q2_mean")),
          quote((Y_a / N_a + Y_b / N_b) / 2))
  # differences between domains
  add_con("diff_top2_q1:commune_code=101-102",
          list(a = c("commune_code", "101", "q1_top2"), b = c("commune_code", "102", "q1_top2")),
          quote(Y_a / N_a - Y_b / N_b))
  add_con("diff_top2_q2:commune_code=105-108",
          list(a = c("commune_code", "105", "q2_top2"), b = c("commune_code", "108", "q2_top2")),
          quote(Y_a / N_a - Y_b / N_b))
  add_con("diff_mean_q2:area_code=794-798",
          list(a = c("area_code", "794", "q2_mean"), b = c("area_code", "798", "q2_mean")),
          quote(Y_a / N_a - Y_b / N_b))
  add_con("diff_top2_q1:sex=1-2",
          list(a = c("sex", "1", "q1_top2"), b = c("sex", "2", "q1_top2")),
          quote(Y_a / N_a - Y_b / N_b))
  # a linear combination across levels: 0.5 commune 101 + 0.3 area 800 - total (top2, q1/q2/q3)
  add_con("lincomb_top2:0.5*q1@commune_code=101+0.3*q2@area_code=800-q3@total",
          list(a = c("commune_code", "101", "q1_top2"), b = c("area_code", "800", "q2_top2"),
               c = c("total", "all", "q3_top2")),
          quote(0.5 * Y_a / N_a + 0.3 * Y_b / N_b - Y_c / N_c))
}

# lonely PSU "fail": R refuses to compute a variance
options(survey.lonely.psu = "fail")
des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, nest = TRUE, data = d)
msg <- tryCatch({
  svymean(~q1_mean, des, na.rm = TRUE)
  "no error"
}, error = function(e) conditionMessage(e))

write_num(do.call(rbind, degf_rows), "degf.csv")
write_num(do.call(rbind, cell_rows), "cells.csv")
write_num(do.call(rbind, ci_rows), "ci.csv")
write_num(do.call(rbind, con_rows), "contrasts.csv")
write.csv(data.frame(error = msg), file.path(out_dir, "lonely_fail.csv"), row.names = FALSE)
cat("R", R.version$major, ".", R.version$minor, " survey ", as.character(packageVersion("survey")),
    ": wrote ", out_dir, "\n", sep = "")

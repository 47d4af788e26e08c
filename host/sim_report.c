/*
 * The simulation report (sim.h ct_sim_report): one self-contained HTML
 * file, the results as JSON and the charting library the dashboard ships
 * (Chart.js from npm, web/vendor/, embedded in the binary) inlined, so it
 * opens anywhere, offline, and can be mailed. The page draws the summary
 * table with the paired differences and a chart per daily figure, the
 * mean over seeds of each variant.
 */
#include "sim.h"

#include "clock.h"
#include "error.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char head[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>caretide sim report</title>\n"
    "<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2430}\n"
    "table{border-collapse:collapse;margin:1em 0}\n"
    "td,th{border:1px solid #c8ced8;padding:3px 8px;text-align:right}\n"
    "th:first-child,td:first-child{text-align:left}\n"
    ".better{background:#e3f4e6}.worse{background:#fbe6e4}\n"
    ".charts{display:grid;grid-template-columns:repeat(auto-fill,"
    "minmax(440px,1fr));gap:1.5em}\n"
    ".stopped{color:#a40e0e;font-weight:bold}\n"
    "</style>\n";

static const char body[] =
    "</head><body>\n"
    "<h1 id=\"title\">caretide sim</h1>\n"
    "<p id=\"about\"></p>\n<div id=\"stopped\" class=\"stopped\"></div>\n"
    "<h2>Summary</h2>\n"
    "<p>Mean over seeds with its 95% interval; for each variant the "
    "difference from <b>base</b> on the same seeds (paired), with its "
    "95% interval. Where the interval excludes 0, green is better than "
    "base and red worse (fewer delays, waits, idle designated beds, "
    "breaches and lower cost; a higher share on the ready date). "
    "docs/simulation.md explains each figure.</p>\n"
    "<table id=\"summary\"></table>\n"
    "<h2>Day by day</h2><p>Mean over seeds.</p>\n"
    "<div class=\"charts\" id=\"charts\"></div>\n"
    "<script>\n"
    "(function(){\n"
    "var R=JSON.parse(document.getElementById('results').textContent);\n"
    "var f=function(x,d){return x===null?'':(+x).toPrecision(d||4)"
    ".replace(/\\.?0+$/,'');};\n"
    "document.getElementById('title').textContent='caretide sim: '+"
    "R.scenario;\n"
    "document.getElementById('about').textContent=R.days+' days from '+"
    "R.start+', '+R.seeds+' seed(s), variants: '+R.variants.join(', ');\n"
    "var st=R.runs.filter(function(r){return r.stopped;});\n"
    "document.getElementById('stopped').textContent=st.map(function(r){"
    "return 'STOPPED '+r.variant+' seed '+r.seed+': '+r.stopped;})"
    ".join('\\n');\n"
    "var t=document.getElementById('summary'),h=t.insertRow();\n"
    "['figure'].concat(R.variants).forEach(function(v){var c="
    "document.createElement('th');c.textContent=v;h.appendChild(c);});\n"
    "var rows={};R.summary.forEach(function(s){(rows[s.metric]=rows[s."
    "metric]||[]).push(s);});\n"
    "Object.keys(rows).forEach(function(m){var r=t.insertRow();"
    "r.insertCell().textContent=rows[m][0].label;\n"
    "rows[m].forEach(function(s,i){var c=r.insertCell();var txt=f(s.mean);"
    "if(s.ci95_half!==null)txt+=' ±'+f(s.ci95_half,3);\n"
    "if(i>0&&s.diff_from_base!==null){txt+=' ('+(s.diff_from_base>=0?'+':'')"
    "+f(s.diff_from_base,3)+(s.diff_ci95_half!==null?' ±'+f(s."
    "diff_ci95_half,3):'')+')';\n"
    "var lo=s.diff_from_base-(s.diff_ci95_half||0),hi=s.diff_from_base+"
    "(s.diff_ci95_half||0);var up=m==='on_ready_date_share';\n"
    "var low=/^(past_ready_date_mean|waits_|bed_days_lost|wait_|"
    "idle_designated|cost|breaches|plugin_failures)/.test(m);\n"
    "if((low||up)&&s.diff_ci95_half!==null&&(hi<0||lo>0))c.className="
    "((hi<0)!==up)?'better':'worse';}\n"
    "c.textContent=txt;});});\n"
    "var figs=[['past_ready_date','People past their ready date'],"
    "['bed_days_lost','Bed-days lost to delay'],['waits_14_plus',"
    "'People delayed 14+ days'],['waiting','Waiting for the hub'],"
    "['escalation_level','Escalation level (day end)'],['surge_beds_open',"
    "'Surge beds open'],['idle_designated_beds','Idle designated beds'],"
    "['occupancy_care_home','Care-home occupancy'],['referrals',"
    "'Referrals'],['cost','Cost (GBP)']];\n"
    "var colours=['#1f5fa8','#d9731a','#2e8b57','#a0288c','#7a6a00',"
    "'#0f8b8d','#b22222','#555'];\n"
    "figs.forEach(function(fg){var box=document.createElement('div');"
    "var h3=document.createElement('h3');h3.textContent=fg[1];"
    "box.appendChild(h3);\n"
    "var cv=document.createElement('canvas');cv.setAttribute('aria-label',"
    "fg[1]);box.appendChild(cv);document.getElementById('charts')"
    ".appendChild(box);\n"
    "var labels=null;var sets=R.variants.map(function(v,i){var rs=R.runs"
    ".filter(function(r){return r.variant===v;});if(!rs.length)return null;"
    "\n"
    "if(!labels)labels=rs[0].days.map(function(d){return d.date;});\n"
    "var data=labels.map(function(_,k){var s=0,n=0;rs.forEach(function(r)"
    "{if(r.days[k]){s+=r.days[k][fg[0]];n++;}});return n?s/n:null;});\n"
    "return {label:v,data:data,borderColor:colours[i%colours.length],"
    "backgroundColor:colours[i%colours.length],pointRadius:0,"
    "borderWidth:1.5,tension:0};}).filter(Boolean);\n"
    "new Chart(cv,{type:'line',data:{labels:labels||[],datasets:sets},"
    "options:{animation:false,responsive:true,interaction:{mode:'index',"
    "intersect:false},scales:{x:{ticks:{maxTicksLimit:8}}}}});});\n"
    "window.caretideReportReady=true;\n"
    "})();\n"
    "</script>\n</body></html>\n";

/* Text inside <script>: "</" would end the element early. */
static void put_script(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<' && i + 1 < n && s[i + 1] == '/') {
            fputs("<\\/", f);
            i++;
            continue;
        }
        fputc(s[i], f);
    }
}

int ct_sim_report(const char *dir, const json_t *results, ct_diags *d)
{
    const ct_embedded *chart = ct_embedded_find("web/vendor/chart.umd.min.js");
    if (!chart) {
        ct_diags_add(d, "report.html", 0, 0, "the charting library is not "
                                             "in this build");
        return CT_ENOTFOUND;
    }
    ct_buf path = {0};
    ct_buf_printf(&path, "%s/report.html", dir);
    FILE *f = path.data ? fopen(path.data, "w") : NULL;
    if (!f) {
        ct_diags_add(d, path.data ? path.data : "report.html", 0, 0,
                     "cannot write: %s", strerror(errno));
        ct_buf_free(&path);
        return CT_EIO;
    }
    char *json = json_dumps(results, JSON_COMPACT | JSON_REAL_PRECISION(6));
    fputs(head, f);
    fputs("<script>\n", f);
    put_script(f, chart->data, chart->len);
    fputs("\n</script>\n<script type=\"application/json\" id=\"results\">",
          f);
    if (json)
        put_script(f, json, strlen(json));
    fputs("</script>\n", f);
    fputs(body, f);
    free(json);
    int bad = ferror(f) | (fclose(f) != 0);
    if (bad || !json)
        ct_diags_add(d, path.data, 0, 0, "cannot write");
    ct_buf_free(&path);
    return bad || !json ? CT_EIO : 0;
}

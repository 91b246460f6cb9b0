(function(){"use strict";
var el=document.getElementById("served");if(!el)return;
var t0=performance.now();
fetch(location.href,{method:"HEAD",cache:"no-store"}).then(function(r){
var xc=r.headers.get("X-Cache")||"(no X-Cache header)",age=r.headers.get("Age")||"0";
el.textContent="This page: "+xc+", Age "+age+"s, "+Math.round(performance.now()-t0)+" ms";
}).catch(function(e){el.textContent="could not reach the edge: "+e;});
})();
